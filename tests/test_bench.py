"""The benchmark's in-process half runs on a freshly seeded database and reports what it
measured: a change in the form or the sign-in that broke it would show here, not on the
day someone needs the figures. (Its numbers are never asserted: see docs/performance.md.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_inprocess_sends_the_change_request_and_reports_both_halves():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.inprocess",
            "--requests",
            "60",
            "--rounds",
            "3",
            "--warmup",
            "1",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip().splitlines()[0]
    assert re.fullmatch(
        r"3 submissions on 60 seeded requests, CPU medians: form page [\d.]+ ms, "
        r"POST [\d.]+ ms, both [\d.]+ ms",
        line,
    ), line
