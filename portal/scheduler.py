"""Periodic work: reminders, escalations after deadlines, deliveries of notifications.

Jobs come from plug-ins (the ``register_jobs`` hook), built-in ones included. ``portal run``
runs them in a background thread of the web process, the embedded default; ``portal
worker`` runs them in a process of its own, for deployments that scale out. Each job must
be safe to run in several processes at once (it claims its rows in the database).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """Run ``function()`` inside an app context every ``every_seconds``."""

    name: str
    every_seconds: float
    function: Callable[[], object]


class Scheduler:
    """Runs the app's jobs, each on its own interval, until stopped."""

    def __init__(self, app: Flask, tick_seconds: float = 1.0):
        self.app = app
        self.tick_seconds = tick_seconds
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def jobs(self) -> list[Job]:
        registries = self.app.extensions["portal.registries"]
        return list(getattr(registries, "jobs", {}).values())

    def run_due(self, last_run: dict[str, float], now: float) -> None:
        from portal.extensions import db

        for job in self.jobs:
            if now - last_run.get(job.name, 0.0) < job.every_seconds:
                continue
            last_run[job.name] = now
            with self.app.app_context():
                try:
                    job.function()
                except Exception:  # one failing job must not stop the others
                    log.exception("scheduled job %s failed", job.name)
                    db.session.rollback()
                finally:
                    db.session.remove()

    def run_forever(self) -> None:
        last_run: dict[str, float] = {}
        while not self.stopping.is_set():
            self.run_due(last_run, time.monotonic())
            self.stopping.wait(self.tick_seconds)

    def start_in_background(self) -> None:
        self.thread = threading.Thread(
            target=self.run_forever, name="portal-scheduler", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
