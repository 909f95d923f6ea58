"""The load generator: Python threads, one httpx client each, on loopback only.

Every measurement is bounded: a throughput run lasts ``warmup + duration`` seconds, a
latency run at most ``count`` requests or ``limit`` seconds. Clients send
``Accept-Encoding: gzip`` as a browser does and never follow redirects: a submission is
its two requests (the form, then the POST answered by a redirect), an approval its one.
"""

from __future__ import annotations

import gzip
import queue
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx

HEADERS = {"Accept-Encoding": "gzip", "User-Agent": "portal-bench"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DRAFT = re.compile(r'name="draft_token" value="([^"]+)"')
PASSWORD = "demo-password"


class Failed(Exception):
    """One operation did not get the answer it should have."""


def client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=HEADERS, timeout=30, follow_redirects=False)


def expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        raise Failed(f"{what}: HTTP {response.status_code} (expected {status})")
    return response


def token(pattern: re.Pattern, text: str, what: str) -> str:
    found = pattern.search(text)
    if found is None:
        raise Failed(f"no {what} in the page")
    return found.group(1)


def sign_in(http: httpx.Client, email: str) -> str:
    """Sign in to the portal; returns a CSRF token valid for the session."""
    page = expect(http.get("/login"), 200, "login page")
    response = http.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token(CSRF, page.text, "csrf")},
    )
    expect(response, 302, f"sign-in of {email}")
    return token(CSRF, expect(http.get("/"), 200, "list").text, "csrf")


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Throughput:
    ops: int
    errors: int
    seconds: float
    latencies: list[float]
    error_samples: list[str] = field(default_factory=list)
    exhausted: bool = False  # the work queue ran dry before the time was up
    client_cpu: float = 0.0  # CPU seconds the load generator itself used
    all_ops: int = 0  # operations done, warm-up included
    server_cpu: float | None = None  # CPU seconds of the server over the same operations

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


def throughput(
    workers: list[Callable[[], Any]],
    op: Callable[[Any], None],
    *,
    duration: float,
    warmup: float,
    server_cpu: Callable[[], float] | None = None,
) -> Throughput:
    """Run ``op(state)`` in a loop on one thread per worker; ``workers[i]()`` makes thread
    i's state (signed in, untimed). Operations that end inside the timed window count.
    ``server_cpu()`` (the server's CPU seconds so far) is read once the clients are signed
    in and again at the end, so the CPU per operation leaves sign-in out."""
    states = [make() for make in workers]
    cpu_server_before = server_cpu() if server_cpu else None
    ready = threading.Barrier(len(states) + 1)
    lock = threading.Lock()
    done: list[tuple[float, float]] = []
    errors: list[tuple[float, str]] = []
    exhausted = threading.Event()
    stop_at = [0.0]

    def loop(state: Any) -> None:
        ready.wait()
        while time.perf_counter() < stop_at[0] and not exhausted.is_set():
            began = time.perf_counter()
            try:
                op(state)
            except queue.Empty:
                exhausted.set()
                return
            except (Failed, httpx.HTTPError) as error:
                with lock:
                    errors.append((time.perf_counter(), str(error)))
                continue
            ended = time.perf_counter()
            with lock:
                done.append((ended, ended - began))

    threads = [threading.Thread(target=loop, args=(s,), daemon=True) for s in states]
    for thread in threads:
        thread.start()
    cpu_before = time.process_time()
    start = time.perf_counter()
    stop_at[0] = start + warmup + duration
    ready.wait()
    for thread in threads:
        thread.join(timeout=warmup + duration + 60)
    cpu_server = server_cpu() - cpu_server_before if server_cpu else None
    window_start = start + warmup
    window_end = min(time.perf_counter(), stop_at[0])
    counted = [latency for ended, latency in done if window_start <= ended <= window_end]
    failed = [message for ended, message in errors if ended >= window_start]
    for state in states:
        if hasattr(state, "close"):
            state.close()
        elif isinstance(state, tuple) and hasattr(state[0], "close"):
            state[0].close()
    return Throughput(
        ops=len(counted),
        errors=len(failed),
        seconds=max(window_end - window_start, 1e-9),
        latencies=counted,
        error_samples=sorted(set(failed))[:3],
        exhausted=exhausted.is_set(),
        client_cpu=time.process_time() - cpu_before,
        all_ops=len(done),
        server_cpu=cpu_server,
    )


@dataclass
class Latency:
    count: int
    p50: float
    p95: float
    max: float
    errors: int


def latency(http: httpx.Client, path: str, *, count: int, limit: float, warmup: int = 5) -> Latency:
    """One client, one request at a time: the time each takes with nobody else waiting."""
    for _ in range(warmup):
        http.get(path)
    times, errors = [], 0
    deadline = time.perf_counter() + limit
    while len(times) < count and time.perf_counter() < deadline:
        began = time.perf_counter()
        response = http.get(path)
        response.read()
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            errors += 1
            continue
        times.append(elapsed)
    return Latency(len(times), percentile(times, 50), percentile(times, 95), max(times), errors)


def percentile(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


# -- page weight ------------------------------------------------------------------------------


class _Assets(HTMLParser):
    """The style sheets and scripts a page loads (images are left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        rel = (values.get("rel") or "").split()
        if tag == "link" and "stylesheet" in rel and values.get("href"):
            self.found.append(values["href"])
        elif tag == "script" and values.get("src"):
            self.found.append(values["src"])


@dataclass
class PageWeight:
    path: str
    status: int
    html_wire: int  # bytes of the page's body as sent (gzip when the server compressed it)
    html_raw: int  # bytes once decompressed
    html_encoding: str
    assets_wire: int  # the CSS and JS it references, as sent
    assets_gzip: int  # the same, had each been gzipped (what a compressing server would send)
    assets: list[tuple[str, int, str]]  # (url, bytes as sent, Content-Encoding)
    browser_total: int  # page + CSS/JS as sent to a browser's gzip, deflate, br, zstd

    @property
    def total_wire(self) -> int:
        return self.html_wire + self.assets_wire


def wire_get(http: httpx.Client, path: str) -> tuple[int, bytes, bytes, str]:
    """(status, body as sent, body decoded, Content-Encoding)."""
    with http.stream("GET", path) as response:
        raw = b"".join(response.iter_raw())
        encoding = response.headers.get("Content-Encoding", "")
        status = response.status_code
    decoded = gzip.decompress(raw) if encoding == "gzip" else raw
    return status, raw, decoded, encoding


BROWSER_ENCODINGS = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def page_weight(http: httpx.Client, path: str) -> PageWeight:
    status, raw, decoded, encoding = wire_get(http, path)
    parser = _Assets()
    parser.feed(decoded.decode("utf-8", "replace"))
    assets = []
    gz_total = browser_total = 0
    for url in dict.fromkeys(parser.found):
        _status, asset_raw, asset_decoded, asset_encoding = wire_get(http, url)
        assets.append((url, len(asset_raw), asset_encoding))
        gz_total += len(gzip.compress(asset_decoded, compresslevel=6))
        with http.stream("GET", url, headers=BROWSER_ENCODINGS) as response:
            browser_total += sum(len(chunk) for chunk in response.iter_raw())
    with http.stream("GET", path, headers=BROWSER_ENCODINGS) as response:
        browser_total += sum(len(chunk) for chunk in response.iter_raw())
    return PageWeight(
        path=path,
        status=status,
        html_wire=len(raw),
        html_raw=len(decoded),
        html_encoding=encoding or "identity",
        assets_wire=sum(size for _url, size, _enc in assets),
        assets_gzip=gz_total,
        assets=assets,
        browser_total=browser_total,
    )
