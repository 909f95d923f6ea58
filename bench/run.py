"""The benchmark, in one run: the portal and a bare Flask + SQLAlchemy app under the same
gunicorn settings, on SQLite and on PostgreSQL, with the same load from loopback.

    python -m bench.run                  # 100,000 requests on both databases (about 6 min)
    python -m bench.run --quick          # 5,000 requests, short windows: a smoke run
    python -m bench.run --databases sqlite --requests 20000

For each database: build the portal's schema with its migrations and seed it
(``bench/seed.py``), seed the baseline the same size, start each app under gunicorn on a
free port of 127.0.0.1, and measure. Prints one table; a full run also writes it, with
the command, the date and the machine, into docs/performance.md between the markers
(everything else in that file is left as it is).

PostgreSQL: the run creates and drops its own databases, ``bench_portal`` and
``bench_baseline``, on the server given by ``--postgresql`` (never any other database).
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import secrets
import shlex
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import load
from bench.servers import ROOT, GunicornSettings, Server

DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
OWN_DATABASES = ("bench_portal", "bench_baseline")
PAGE_LIMIT_KB = 50.0
P95_LIMIT_MS = 50.0
MIN_SHARE = 0.5

SUBMISSION = {
    "description": "The report should also be available as CSV, so finance can load it into "
    "their own tools without copying tables by hand.",
    "reason": "business",
    "business_value": "medium",
    "desired_date": "2027-03-01",
    "affected_systems": ["website", "erp"],
    "impact_cost": "low",
    "impact_time": "medium",
    "impact_resources": "low",
    "impact_risk": "low",
    "budget": "1200",
    "budget__currency": "EUR",
}


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- databases --------------------------------------------------------------------------------


@dataclass
class Databases:
    kind: str  # "SQLite" or "PostgreSQL"
    portal_url: str
    baseline_url: str
    instance_path: str
    admin_url: str | None = None

    def drop(self) -> None:
        if self.admin_url:
            _drop_own(self.admin_url)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def _drop_own(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in OWN_DATABASES:
            assert name.startswith("bench_") and name != "test"
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(kind: str, work: Path, postgresql: str) -> Databases:
    if kind == "sqlite":
        folder = work / "sqlite"
        folder.mkdir()
        return Databases(
            "SQLite",
            f"sqlite:///{folder / 'portal.db'}",
            f"sqlite:///{folder / 'baseline.db'}",
            str(folder / "instance"),
        )
    import psycopg

    admin = _with_database(postgresql, "postgres")
    _drop_own(admin)
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in OWN_DATABASES:
            conn.execute(f'CREATE DATABASE "{name}"')
    folder = work / "postgresql"
    folder.mkdir()
    return Databases(
        "PostgreSQL",
        _with_database(postgresql, OWN_DATABASES[0]),
        _with_database(postgresql, OWN_DATABASES[1]),
        str(folder / "instance"),
        admin,
    )


# -- one database -----------------------------------------------------------------------------


@dataclass
class Options:
    requests: int
    duration: float
    warmup: float
    threads: int
    latency_count: int
    latency_limit: float
    settings: GunicornSettings


def measure_database(dbs: Databases, opts: Options, work: Path) -> dict[str, Any]:
    from bench.baseline_app import seed_baseline
    from bench.seed import build_schema, make_app, seed_portal, waiting_at

    secret = secrets.token_hex(32)
    result: dict[str, Any] = {"kind": dbs.kind}
    log(f"{dbs.kind}: building the portal's schema and seeding {opts.requests:,} requests")
    app = make_app(dbs.portal_url, dbs.instance_path, secret)
    build_schema(app)
    seeded = seed_portal(app, opts.requests, load_clients=opts.threads)
    waiting = waiting_at(app, "analysis")
    result["seed"] = {"seconds": seeded.seconds, "counts": seeded.counts, "waiting": len(waiting)}
    log(f"{dbs.kind}: seeded in {seeded.seconds:.0f} s ({len(waiting)} waiting at analysis)")
    started = time.perf_counter()
    seed_baseline(dbs.baseline_url, opts.requests)
    log(f"{dbs.kind}: baseline seeded in {time.perf_counter() - started:.0f} s")

    portal = Server(
        f"portal on {dbs.kind}",
        "portal:create_app()",
        {
            "PORTAL_DATABASE_URL": dbs.portal_url,
            "PORTAL_INSTANCE_PATH": dbs.instance_path,
            "PORTAL_SECRET_KEY": secret,
            # As a deployment with e-mail: each notification gets its pending e-mail
            # delivery (the outbox). Nothing is sent: no worker runs during the measurement.
            "PORTAL_SMTP_HOST": "127.0.0.1",
        },
        opts.settings,
        work / f"gunicorn-portal-{dbs.kind.lower()}.log",
        ready_path="/healthz",
    )
    portal.start()
    try:
        result["portal"] = measure_portal(portal, seeded, waiting, opts)
    finally:
        portal.stop()
    baseline = Server(
        f"baseline on {dbs.kind}",
        "bench.baseline_app:create_app()",
        {"BASELINE_DATABASE_URL": dbs.baseline_url},
        opts.settings,
        work / f"gunicorn-baseline-{dbs.kind.lower()}.log",
        ready_path="/new",
    )
    baseline.start()
    try:
        result["baseline"] = measure_baseline(baseline, opts)
    finally:
        baseline.stop()
    return result


def _timed(server: Server, name: str, workers, op, opts: Options) -> dict[str, Any]:  # noqa: ANN001
    log(f"{server.name}: {name}, {len(workers)} clients, {opts.duration:.0f} s")
    run = load.throughput(
        workers, op, duration=opts.duration, warmup=opts.warmup, server_cpu=server.cpu_seconds
    )
    line = f"{run.per_second:.1f}/s, {run.errors} errors"
    if run.error_samples:
        line += f" ({'; '.join(run.error_samples)})"
    log(f"{server.name}: {name}: {line}")
    return {
        "per_second": run.per_second,
        "ops": run.ops,
        "errors": run.errors,
        "error_samples": run.error_samples,
        "exhausted": run.exhausted,
        "p50_ms": load.percentile(run.latencies, 50) * 1000 if run.latencies else None,
        "p95_ms": load.percentile(run.latencies, 95) * 1000 if run.latencies else None,
        # over the warm-up too: every operation the server did after the sign-ins
        "server_cpu_ms": run.server_cpu / run.all_ops * 1000 if run.all_ops else None,
        "client_cpu_share": run.client_cpu / (opts.duration + opts.warmup),
    }


def _latency(server: Server, http, path: str, opts: Options) -> dict[str, Any]:  # noqa: ANN001
    result = load.latency(http, path, count=opts.latency_count, limit=opts.latency_limit)
    log(
        f"{server.name}: {path} one at a time: p50 {result.p50 * 1000:.1f} ms, "
        f"p95 {result.p95 * 1000:.1f} ms over {result.count}"
    )
    return {
        "p50_ms": result.p50 * 1000,
        "p95_ms": result.p95 * 1000,
        "max_ms": result.max * 1000,
        "count": result.count,
        "errors": result.errors,
    }


def measure_portal(server: Server, seeded, waiting: list[tuple[str, int]], opts: Options) -> dict:  # noqa: ANN001
    base = server.base_url
    out: dict[str, Any] = {}

    # Page weight: each main page as a first visit gets it (HTML + its CSS and JS).
    with load.client(base) as anonymous:
        out["pages"] = {"login": load.page_weight(anonymous, "/login")}
    with load.client(base) as client_http:
        load.sign_in(client_http, seeded.clients[0])
        out["pages"]["form"] = load.page_weight(client_http, "/forms/change-request/new")
    staff = load.client(base)
    load.sign_in(staff, seeded.staff)
    out["pages"]["list"] = load.page_weight(staff, "/")
    out["pages"]["request page"] = load.page_weight(staff, f"/requests/{seeded.detail_number}")
    out["pages"]["inbox"] = load.page_weight(staff, "/inbox")
    for name, page in out["pages"].items():
        if page.status != 200:
            raise RuntimeError(f"{server.name}: the {name} page answered {page.status}")

    out["list_latency"] = _latency(server, staff, "/", opts)
    out["inbox_latency"] = _latency(server, staff, "/inbox", opts)
    staff.close()

    def signed_in(email: str):  # noqa: ANN202
        def make():  # noqa: ANN202
            http = load.client(base)
            return http, load.sign_in(http, email)

        return make

    def list_page(state) -> None:  # noqa: ANN001
        load.expect(state[0].get("/"), 200, "list")

    out["list"] = _timed(
        server, "list", [signed_in(seeded.staff) for _ in range(opts.threads)], list_page, opts
    )

    counter = iter(range(10**9))
    counter_lock = threading.Lock()

    def submission(state) -> None:  # noqa: ANN001
        http = state[0]
        page = load.expect(http.get("/forms/change-request/new"), 200, "form")
        with counter_lock:
            n = next(counter)
        data = {
            **SUBMISSION,
            "title": f"Benchmark change number {n}",
            "csrf_token": load.token(load.CSRF, page.text, "csrf"),
            "draft_token": load.token(load.DRAFT, page.text, "draft token"),
        }
        response = http.post("/forms/change-request/submit", data=data)
        load.expect(response, 302, "submit")
        if "/submitted" not in response.headers.get("Location", ""):
            raise load.Failed(f"submit went to {response.headers.get('Location')}")

    out["submit"] = _timed(
        server,
        "submissions",
        [signed_in(email) for email in seeded.clients[: opts.threads]],
        submission,
        opts,
    )

    work: queue.Queue = queue.Queue()
    for item in waiting:
        work.put(item)

    def approval(state) -> None:  # noqa: ANN001
        http, csrf = state
        number, revision = work.get_nowait()
        response = http.post(
            f"/requests/{number}/act",
            data={
                "step": "analysis",
                "verb": "done",
                "revision": str(revision),
                "comment": "Assessed: clear enough to review.",
                "csrf_token": csrf,
            },
        )
        load.expect(response, 302, f"done on {number}")

    approvers = [seeded.approvers[i % len(seeded.approvers)] for i in range(opts.threads)]
    out["approve"] = _timed(server, "approvals", [signed_in(e) for e in approvers], approval, opts)
    out["memory"] = server.memory()
    return out


def measure_baseline(server: Server, opts: Options) -> dict:
    base = server.base_url
    out: dict[str, Any] = {}
    with load.client(base) as http:
        out["list_latency"] = _latency(server, http, "/", opts)

    def plain():  # noqa: ANN202
        return load.client(base)

    def list_page(http) -> None:  # noqa: ANN001
        load.expect(http.get("/"), 200, "list")

    out["list"] = _timed(server, "list", [plain for _ in range(opts.threads)], list_page, opts)
    counter = iter(range(10**9))
    counter_lock = threading.Lock()

    def submission(http) -> None:  # noqa: ANN001
        load.expect(http.get("/new"), 200, "form")
        with counter_lock:
            n = next(counter)
        data = {
            **SUBMISSION,
            "title": f"Benchmark change number {n}",
            "organisation_id": str(1 + n % 200),
        }
        load.expect(http.post("/submit", data=data), 302, "submit")

    out["submit"] = _timed(
        server, "submissions", [plain for _ in range(opts.threads)], submission, opts
    )
    out["memory"] = server.memory()
    return out


# -- the table --------------------------------------------------------------------------------

HEADER = ("metric", "database", "portal", "baseline", "ratio", "target", "met?")


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _rss(workers: list[dict[str, float]], key: str) -> float | None:
    """The largest worker's VmRSS (now) or VmHWM (peak), in MiB."""
    values = [w[key] for w in workers if key in w]
    return max(values) if values else None


def table_rows(results: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    for res in results:
        kind, p, b = res["kind"], res["portal"], res["baseline"]

        def more_is_better(metric, pv, bv, target=None, unit="", kind=kind):  # noqa: ANN001, ANN202
            ratio = pv / bv if pv is not None and bv else None
            good = ratio is not None and target is not None and ratio >= target
            met = "—" if target is None else ("yes" if good else "no")
            target_text = "—" if target is None else f"ratio ≥ {target:.2f}"
            rows.append(
                (metric, kind, _fmt(pv) + unit, _fmt(bv) + unit, _fmt(ratio, 2), target_text, met)
            )

        def less_is_better(metric, pv, bv, limit=None, unit="", kind=kind):  # noqa: ANN001, ANN202
            ratio = bv / pv if pv and bv is not None else None
            met = "—" if limit is None else ("yes" if pv is not None and pv < limit else "no")
            target_text = "—" if limit is None else f"< {limit:.0f}{unit}"
            rows.append(
                (
                    metric,
                    kind,
                    _fmt(pv) + (unit if pv is not None else ""),
                    _fmt(bv) + (unit if bv is not None else ""),
                    _fmt(ratio, 2),
                    target_text,
                    met,
                )
            )

        more_is_better(
            f"submissions/s (form + POST, {res['threads']} clients)",
            p["submit"]["per_second"],
            b["submit"]["per_second"],
            MIN_SHARE,
        )
        more_is_better(
            f"approvals/s ({res['threads']} approvers)", p["approve"]["per_second"], None
        )
        more_is_better(
            f"list pages/s ({res['threads']} clients)",
            p["list"]["per_second"],
            b["list"]["per_second"],
            MIN_SHARE,
        )
        less_is_better(
            "list p50, one client",
            p["list_latency"]["p50_ms"],
            b["list_latency"]["p50_ms"],
            None,
            " ms",
        )
        less_is_better(
            "list p95, one client",
            p["list_latency"]["p95_ms"],
            b["list_latency"]["p95_ms"],
            P95_LIMIT_MS,
            " ms",
        )
        less_is_better("inbox p50, one client", p["inbox_latency"]["p50_ms"], None, None, " ms")
        less_is_better(
            "inbox p95, one client", p["inbox_latency"]["p95_ms"], None, P95_LIMIT_MS, " ms"
        )
        less_is_better(
            "server CPU per submission",
            p["submit"]["server_cpu_ms"],
            b["submit"]["server_cpu_ms"],
            None,
            " ms",
        )
        less_is_better(
            "server CPU per list page",
            p["list"]["server_cpu_ms"],
            b["list"]["server_cpu_ms"],
            None,
            " ms",
        )
        less_is_better("server CPU per approval", p["approve"]["server_cpu_ms"], None, None, " ms")
        less_is_better(
            "memory per worker (RSS after the run)",
            _rss(p["memory"], "VmRSS"),
            _rss(b["memory"], "VmRSS"),
            None,
            " MiB",
        )
        less_is_better(
            "memory per worker (peak RSS)",
            _rss(p["memory"], "VmHWM"),
            _rss(b["memory"], "VmHWM"),
            None,
            " MiB",
        )
        for name, page in p["pages"].items():
            kb = page.total_wire / 1024
            rows.append(
                (
                    f"page weight: {name} (HTML + CSS/JS, as sent)",
                    kind,
                    f"{kb:.1f} KB",
                    "—",
                    "—",
                    f"< {PAGE_LIMIT_KB:.0f} KB",
                    "yes" if kb < PAGE_LIMIT_KB else "no",
                )
            )
    return rows


def markdown(rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plain(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    out = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def details(results: list[dict[str, Any]], opts: Options) -> str:
    """What the table rests on: per-page bytes, the seed, errors, the load generator."""
    lines = []
    for res in results:
        p, b = res["portal"], res["baseline"]
        seed = res["seed"]
        stages = ", ".join(f"{k} {v:,}" for k, v in seed["counts"].items())
        lines.append(
            f"**{res['kind']}**: seeded {opts.requests:,} requests in "
            f"{seed['seconds']:.0f} s ({stages}); "
            f"{seed['waiting']:,} waited at analysis for the approvals."
        )
        lines.append("")
        lines.append(
            "| page | status | HTML as sent | HTML decoded | CSS/JS as sent "
            "| CSS/JS if gzipped | all, to a browser's gzip, deflate, br, zstd |"
        )
        lines.append("|---|---|---|---|---|---|---|")
        for name, page in p["pages"].items():
            encodings = sorted({enc or "identity" for _u, _s, enc in page.assets})
            lines.append(
                f"| {name} (`{page.path}`) | {page.status} | {page.html_wire / 1024:.1f} KB "
                f"({page.html_encoding}) | {page.html_raw / 1024:.1f} KB | "
                f"{page.assets_wire / 1024:.1f} KB ({', '.join(encodings)}) | "
                f"{page.assets_gzip / 1024:.1f} KB | {page.browser_total / 1024:.1f} KB |"
            )
        lines.append("")
        for app_name, res_app in (("portal", p), ("baseline", b)):
            for what in ("submit", "list", "approve"):
                if what not in res_app:
                    continue
                run = res_app[what]
                note = (
                    f"- {app_name} {what}: {run['ops']:,} in {opts.duration:.0f} s, "
                    f"{run['errors']} errors, latency under load p50 {_fmt(run['p50_ms'])} ms "
                    f"/ p95 {_fmt(run['p95_ms'])} ms, load generator used "
                    f"{run['client_cpu_share'] * 100:.0f} % of a core"
                )
                if run["error_samples"]:
                    note += f" (errors: {'; '.join(run['error_samples'])})"
                if run["exhausted"]:
                    note += " (ran out of requests to act on before the time was up)"
                lines.append(note)
            mem = ", ".join(
                f"{w.get('VmRSS', 0):.0f} MiB now / {w.get('VmHWM', 0):.0f} peak"
                for w in res_app["memory"]
            )
            lines.append(f"- {app_name} workers: {mem}")
        lines.append("")
    return "\n".join(lines)


def machine() -> str:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load_avg = "?"
    try:
        load_avg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory} memory; load average at the start "
        f"{load_avg}; Linux {platform.release()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def code_version() -> str:
    """The commit measured, and whether the work tree had other changes (read-only git)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    except OSError:
        return "?"
    if not head:
        return "?"
    changed = [line[3:] for line in status]
    return f"commit {head}" + (
        f" with uncommitted changes to {', '.join(changed)}" if changed else ""
    )


def postgres_version(admin_url: str) -> str:
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        return "?"


def write_doc(table: str, extra: str, header: str) -> None:
    block = f"{BEGIN}\n{header}\n\n{table}\n\n{extra}\n{END}"
    if DOC.exists() and BEGIN in DOC.read_text() and END in DOC.read_text():
        text = DOC.read_text()
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        DOC.write_text(before + block + after)
    else:
        DOC.write_text("# Performance\n\n" + block + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark the portal against a bare Flask + SQLAlchemy app."
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="requests to seed (default 100000; 5000 with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 5,000 requests, 4 s windows, no doc"
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--postgresql",
        default="postgresql://127.0.0.1:5432/",
        help="PostgreSQL server; its bench_* databases are made and dropped",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds per throughput window (12; 4 with --quick)",
    )
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=4, help="load clients per throughput run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--worker-threads", type=int, default=2, help="threads per worker")
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write docs/performance.md (yes, but not with --quick)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder under /tmp")
    args = parser.parse_args(argv)

    requests = args.requests or (5_000 if args.quick else 100_000)
    duration = args.duration or (4.0 if args.quick else 12.0)
    opts = Options(
        requests=requests,
        duration=duration,
        warmup=1.0 if args.quick else args.warmup,
        threads=args.threads,
        latency_count=100 if args.quick else 300,
        latency_limit=10.0 if args.quick else 20.0,
        settings=GunicornSettings(workers=args.workers, threads=args.worker_threads),
    )
    write = (not args.quick) if args.write is None else args.write
    kinds = [k.strip().lower() for k in args.databases.split(",") if k.strip()]
    unknown = set(kinds) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database kind: {', '.join(sorted(unknown))}")

    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python -m bench.run", shlex.join(given)]).strip()
    started = datetime.now(UTC)
    about_machine = machine()
    about_code = code_version()
    work = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    log(f"work folder {work}; {opts.settings.describe()}; {requests:,} requests")
    results = []
    try:
        for kind in kinds:
            dbs = prepare(kind, work, args.postgresql)
            try:
                result = measure_database(dbs, opts, work)
                result["threads"] = opts.threads
                if dbs.admin_url:
                    result["server_version"] = postgres_version(dbs.admin_url)
                results.append(result)
            finally:
                dbs.drop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    rows = table_rows(results)
    print(plain(rows))
    print(
        "\nratio: the portal relative to the bare app, higher is better (1.00 = as good): "
        "portal/baseline for throughput, baseline/portal for latency, CPU and memory."
    )
    if write:
        pg = next((r.get("server_version") for r in results if r.get("server_version")), None)
        header = "\n".join(
            [
                f"Command: `{command}`  ",
                f"Code: {about_code}  ",
                f"Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (the run took "
                f"{elapsed / 60:.1f} min)  ",
                f"Machine: {about_machine}"
                + (f"; PostgreSQL {pg} on 127.0.0.1" if pg else "")
                + "  ",
                f"Servers: gunicorn, {opts.settings.describe()}, on 127.0.0.1; load: "
                f"{opts.threads} Python threads with httpx on the same machine, "
                f"{opts.warmup:.0f} s warm-up + {opts.duration:.0f} s per throughput window; "
                f"latency one request at a time, {opts.latency_count} requests "
                f"(at most {opts.latency_limit:.0f} s).  ",
                "Ratio: the portal relative to the bare app, higher is better (1.00 = as good): "
                "portal/baseline for throughput, baseline/portal for latency, CPU and memory.",
            ]
        )
        write_doc(markdown(rows), details(results, opts), header)
        log(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
