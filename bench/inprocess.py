"""Where a submission's time goes, in-process: the portal's own CPU time for the form page
and for the POST that sends it, without gunicorn, HTTP or a load generator beside it.

``bench.run`` measures the whole server against the bare app; this splits the portal's
side in two and, with ``--profile``, names the functions that cost the most. It seeds a
fresh SQLite database in a temporary folder, as ``bench.run`` does (e-mail configured, so
each notification gets its delivery), signs in as a load client and sends the change
request again and again with Flask's test client, as the benchmark's clients do.

    python -m bench.inprocess                    # medians of 100 rounds, after 20 to warm up
    python -m bench.inprocess --profile 40       # and the 40 costliest functions (cProfile)
    python -m bench.inprocess --requests 20000   # on a larger database

CPU time of this process (``time.process_time``), not wall time: the figures do not count
waits for the disk or for another process, and move less on a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import tempfile
import time

from bench.load import CSRF, DRAFT
from bench.run import SUBMISSION
from bench.seed import DEMO_PASSWORD, build_schema, seed_portal

FORM = "/forms/change-request/new"
SUBMIT = "/forms/change-request/submit"


def make_app(folder: str):  # noqa: ANN201
    """The portal on an SQLite file in ``folder``, with e-mail configured as in bench.run."""
    from config import Config
    from portal import create_app

    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/portal.db",
        "SECRET_KEY": "bench-inprocess",
        "MAIL_SERVER": "127.0.0.1",
    }
    return create_app(type("InProcessConfig", (Config,), settings), instance_path=folder)


def token(pattern: re.Pattern, text: str) -> str:
    found = pattern.search(text)
    if found is None:
        raise SystemExit(f"no {pattern.pattern!r} in the page")
    return found.group(1)


class Client:
    """One signed-in client sending the change request, timing each half."""

    def __init__(self, app, email: str) -> None:  # noqa: ANN001
        self.http = app.test_client()
        page = self.http.get("/login")
        signed_in = self.http.post(
            "/login",
            data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token(CSRF, page.text)},
        )
        if signed_in.status_code != 302:
            raise SystemExit(f"sign-in as {email} answered {signed_in.status_code}")
        self.sent = 0

    def submission(self) -> tuple[float, float]:
        """CPU seconds for the form page and for the POST."""
        started = time.process_time()
        page = self.http.get(FORM)
        shown = time.process_time()
        if page.status_code != 200:
            raise SystemExit(f"the form answered {page.status_code}")
        self.sent += 1
        data = {
            **SUBMISSION,
            "title": f"In-process change number {self.sent}",
            "csrf_token": token(CSRF, page.text),
            "draft_token": token(DRAFT, page.text),
        }
        posted = time.process_time()
        answer = self.http.post(SUBMIT, data=data)
        done = time.process_time()
        if answer.status_code != 302 or "/submitted" not in answer.headers.get("Location", ""):
            raise SystemExit(f"the submission answered {answer.status_code}")
        return shown - started, done - posted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="seeded first")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--profile", type=int, metavar="N", help="print the N costliest")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="portal-inprocess-") as folder:
        app = make_app(folder)
        build_schema(app)
        seeded = seed_portal(app, args.requests)
        client = Client(app, seeded.clients[0])
        for _ in range(args.warmup):
            client.submission()
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        rounds = [client.submission() for _ in range(args.rounds)]
        if profile:
            profile.disable()

    form = statistics.median(r[0] for r in rounds) * 1000
    post = statistics.median(r[1] for r in rounds) * 1000
    whole = statistics.median(sum(r) for r in rounds) * 1000
    note = " (under cProfile: about twice as slow)" if profile else ""
    print(
        f"{args.rounds} submissions on {args.requests:,} seeded requests, CPU medians{note}: "
        f"form page {form:.1f} ms, POST {post:.1f} ms, both {whole:.1f} ms"
    )
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
