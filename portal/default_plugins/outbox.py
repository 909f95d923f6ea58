"""The built-in outbox job: deliver due outbox events to their connectors, every few
seconds, in ``portal run`` (in-process) or ``portal worker`` (standalone)."""

from __future__ import annotations

from portal import hookimpl
from portal.scheduler import Job


def deliver_outbox() -> None:
    from portal.integrations.worker import deliver_due

    deliver_due()


@hookimpl(trylast=True)
def register_jobs(register) -> None:  # noqa: ANN001
    register(Job("deliver_outbox", 5, deliver_outbox))
