"""Sign-in attempts: each one recorded, and further tries refused after repeated failures.

The record is the throttle's only memory, so it holds across processes and restarts, and an
admin can read who tried what from where.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from portal.accounts.models import LoginAttempt
from portal.database import utcnow
from portal.extensions import db


def seconds_until_allowed(email: str, ip_address: str | None) -> int:
    """0 when a sign-in may be tried now, else how long to wait."""
    config = current_app.config
    window = timedelta(minutes=config["LOGIN_THROTTLE_MINUTES"])
    since = utcnow() - window
    limits = [(LoginAttempt.email == email, config["LOGIN_MAX_FAILURES"])]
    if ip_address:
        limits.append((LoginAttempt.ip_address == ip_address, config["LOGIN_MAX_FAILURES"] * 4))
    wait = 0
    for condition, limit in limits:
        failures = select(LoginAttempt.attempted_at).where(
            condition, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at >= since
        )
        count = db.session.scalar(select(func.count()).select_from(failures.subquery()))
        if count >= limit:
            oldest = db.session.scalar(
                failures.order_by(LoginAttempt.attempted_at.desc()).offset(limit - 1).limit(1)
            )
            wait = max(wait, int((oldest + window - utcnow()).total_seconds()) + 1)
    return max(wait, 0)


def record_attempt(
    email: str, ip_address: str | None, user_agent: str | None, succeeded: bool, reason: str
) -> None:
    db.session.add(
        LoginAttempt(
            email=email,
            ip_address=ip_address,
            user_agent=(user_agent or "")[:300],
            succeeded=succeeded,
            reason=reason,
        )
    )
