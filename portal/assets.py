"""The portal's own CSS, JavaScript and icons, sent compressed.

Flask sends static files as streams, and Flask-Compress compresses streams only with
Brotli, Zstandard or deflate. Static files are small, so they are read whole here and
compressed with gzip like the pages, which every phone accepts.
"""

from __future__ import annotations

from flask import Flask, Response, request


def read_whole(response: Response) -> Response:
    if request.endpoint == "static" and response.status_code == 200 and response.is_streamed:
        response.direct_passthrough = False
        response.set_data(response.get_data())
    return response


def init_app(app: Flask) -> None:
    # Registered after Flask-Compress, so it runs before it (after_request runs in reverse).
    app.after_request(read_whole)
