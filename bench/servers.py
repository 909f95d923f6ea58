"""Starting an app under gunicorn on loopback, and reading its workers from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class GunicornSettings:
    """The same for the portal and the baseline. gthread: each worker process serves
    ``threads`` requests at once (one runs Python while another waits on the database)
    and keeps connections alive, which a sync worker does not; two processes for two cores."""

    workers: int = 2
    threads: int = 2
    worker_class: str = "gthread"

    def describe(self) -> str:
        return f"{self.workers} {self.worker_class} workers x {self.threads} threads"


class Server:
    """One gunicorn master and its workers, started by us and stopped by its own pid."""

    def __init__(
        self,
        name: str,
        app: str,
        env: dict[str, str],
        settings: GunicornSettings,
        log_path: Path,
        ready_path: str = "/",
    ) -> None:
        self.name = name
        self.app = app
        self.env = env
        self.settings = settings
        self.log_path = log_path
        self.ready_path = ready_path
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.settings.workers),
            "--worker-class",
            self.settings.worker_class,
            "--threads",
            str(self.settings.threads),
            "--timeout",
            "60",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
            self.app,
        ]
        env = {**os.environ, **self.env}
        env.pop("PORTAL_TEST_DATABASE_URL", None)
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} did not start; see {self.log_path}")
            try:
                if httpx.get(self.base_url + self.ready_path, timeout=2).status_code < 500:
                    if len(self.worker_pids()) >= self.settings.workers:
                        self._warm()
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer in {timeout:.0f} s; see {self.log_path}")

    def _warm(self) -> None:
        """Every worker has imported the app and answered once before anything is timed."""
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            for _ in range(4 * self.settings.workers):
                client.get(self.ready_path)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._log.close()

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        master = self.process.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            return [int(pid) for pid in children]
        except OSError:
            return []

    def memory(self) -> list[dict[str, float]]:
        """Each worker's resident memory now (VmRSS) and at its peak (VmHWM), in MiB."""
        found = []
        for pid in self.worker_pids():
            values = {}
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    key, _, rest = line.partition(":")
                    if key in ("VmRSS", "VmHWM"):
                        values[key] = int(rest.split()[0]) / 1024
            except OSError:
                continue
            found.append(values)
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of the workers so far (their threads included)."""
        total = 0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLOCK_TICKS
