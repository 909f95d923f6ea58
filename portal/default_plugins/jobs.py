"""The built-in scheduled jobs, registered like any plug-in's."""

from __future__ import annotations

from portal import hookimpl
from portal.scheduler import Job


def deliver_notifications() -> None:
    from portal.notifications.service import deliver_pending

    deliver_pending()


def run_deadlines() -> None:
    from portal.approvals.deadlines import run_deadlines

    run_deadlines()


@hookimpl(trylast=True)
def register_jobs(register) -> None:  # noqa: ANN001
    register(Job("deliver_notifications", 15, deliver_notifications))
    register(Job("deadlines", 60, run_deadlines))
