"""The benchmark: the portal under gunicorn against a bare Flask + SQLAlchemy app.

``python -m bench.run`` (see ``bench/README.md``); nothing here is imported by the portal.
"""
