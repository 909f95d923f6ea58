"""Telling people what waits on them.

``notify`` records a notification per person, and one delivery per channel, in the
caller's transaction: nothing leaves the portal unless that transaction commits.
``deliver_pending`` then sends what is due, one delivery at a time: it claims a row with a
single UPDATE that only one caller can win (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the
single writer lock on SQLite), sends outside any transaction, and records the outcome.
A failed send is retried with backoff and given up after ``MAX_ATTEMPTS``; the error stays
on the row for an admin to read.

Every message is written in the recipient's language and shows times in the recipient's
zone, whoever's request caused it.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from flask import current_app, render_template
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import Integer, bindparam, func, insert, inspect, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from portal.accounts.models import User
from portal.database import utcnow
from portal.extensions import db
from portal.i18n import admin_text, valid_zone
from portal.notifications.models import DeliveryStatus, Notification, NotificationDelivery

if TYPE_CHECKING:
    from portal.requests.models import ChangeRequest

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
# How long a claimed delivery is kept from other senders. A sender that dies while sending
# leaves the row pending; it is picked up again once the lease has run out.
CLAIM_LEASE = timedelta(minutes=10)
OUTCOMES = ("approved", "rejected", "declined")

# kind: (params that must be given, params that may be given)
KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "action_needed": (frozenset({"step_label"}), frozenset({"deadline_at"})),
    "reminder": (frozenset({"step_label"}), frozenset({"deadline_at"})),
    "escalated": (frozenset({"step_label"}), frozenset()),
    "sent_back": (frozenset({"step_label"}), frozenset({"comment"})),
    "decided": (frozenset({"outcome"}), frozenset({"step_label"})),
    "completed": (frozenset(), frozenset()),
    "comment": (frozenset({"comment"}), frozenset()),
}


# -- what a channel is given -----------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Who a message is for, with the language and zone it was written in."""

    email: str
    name: str
    locale: str
    timezone: str


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message: already in the recipient's language and zone."""

    recipient: Recipient
    subject: str
    text: str
    html: str | None
    url: str  # absolute link to the request (or to the notifications page)
    kind: str


@runtime_checkable
class NotificationChannel(Protocol):
    """A way to reach people. ``send`` raises (ideally ``DeliveryError``) when it could not."""

    name: str

    def send(self, message: OutgoingMessage) -> None: ...


class DeliveryError(Exception):
    """A channel could not send; the message says why, in words an admin can act on."""


@dataclass
class DeliveryReport:
    """What one ``deliver_pending`` call did."""

    sent: int = 0
    retrying: int = 0  # failed this time, will be tried again
    failed: int = 0  # failed for the last time: given up

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


# -- recording ---------------------------------------------------------------------------------


def channels() -> dict[str, NotificationChannel]:
    """The channels the installed plug-ins registered and that are set up to send, by name.

    A channel may have ``ready() -> bool``: e-mail is not ready until an SMTP server is
    configured, so a portal without one keeps its notifications in the bell only.
    """
    registered = current_app.extensions["portal.registries"].notification_channels
    return {
        name: channel
        for name, channel in registered.items()
        if getattr(channel, "ready", lambda: True)()
    }


def notify(
    user_ids: Iterable[int], kind: str, request: ChangeRequest | None, **params: Any
) -> list[int]:
    """Tell each user about ``request``: a notification and one pending delivery per channel.
    Returns the new notifications' ids.

    The rows are written at once, in the caller's transaction (``request`` must already be
    in the database). The caller commits. Unknown kinds, missing or unexpected params, a
    missing request and unknown user ids raise ``ValueError``; deactivated users are
    skipped. The same id given twice is told once.
    """
    return tell_about(request, [(user_ids, kind, params)])


def tell_about(
    request: ChangeRequest | None, messages: Iterable[tuple[Iterable[int], str, dict[str, Any]]]
) -> list[int]:
    """Several messages about one request, each ``(user_ids, kind, params)`` as ``notify``
    takes them, written together: one look-up of the people not already loaded and two
    statements, however many messages and people."""
    if request is None:  # every kind so far is about a request, and its message links to it
        raise ValueError("notify: a request is needed")
    wanted = []
    for user_ids, kind, params in messages:
        params = checked_params(kind, params)
        ids = list(dict.fromkeys(int(user_id) for user_id in user_ids))
        wanted.extend((user_id, kind, params) for user_id in ids)
    if not wanted:
        return []
    users = _users(list(dict.fromkeys(user_id for user_id, _kind, _params in wanted)))
    unknown = sorted({str(user_id) for user_id, _kind, _params in wanted if user_id not in users})
    if unknown:
        raise ValueError(f"notify: no user with id {', '.join(unknown)}")
    now = utcnow()
    rows = [
        {
            "user_id": user_id,
            "request_id": request.id,
            "kind": kind,
            "params": dict(params),
            "created_at": now,
            "read_at": None,
        }
        for user_id, kind, params in wanted
        if users[user_id].active
    ]
    if not rows:
        return []
    notifications = Notification.__table__
    # Every notification gets the same deliveries, so the ids may come back in any order
    # (which lets SQLite return them from one multi-row INSERT).
    made = list(
        db.session.execute(insert(notifications).returning(notifications.c.id), rows).scalars()
    )
    names = list(channels())
    if names:
        db.session.execute(
            insert(NotificationDelivery.__table__),
            [
                {
                    "notification_id": notification_id,
                    "channel": name,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": None,
                    "sent_at": None,
                }
                for notification_id in made
                for name in names
            ],
        )
    return sorted(made)


def _users(ids: list[int]) -> dict[int, User]:
    """The people by id: those this session already holds (say, just given a task) without a
    query, the others in one."""
    users: dict[int, User] = {}
    for user_id in ids:
        user = db.session.identity_map.get(identity_key(User, user_id))
        if user is not None and not inspect(user).expired:
            users[user_id] = user
    missing = [user_id for user_id in ids if user_id not in users]
    if missing:
        users.update(
            (user.id, user) for user in db.session.scalars(select(User).where(User.id.in_(missing)))
        )
    return users


def checked_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The params of one kind, checked, with a deadline turned into an ISO string in UTC."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}; known: {', '.join(KINDS)}")
    required, optional = KINDS[kind]
    problems = [f"missing {name!r}" for name in sorted(required - params.keys())]
    problems += [f"unexpected {name!r}" for name in sorted(params.keys() - required - optional)]
    if kind == "decided" and params.get("outcome") not in OUTCOMES:
        problems.append(f"outcome must be one of {', '.join(OUTCOMES)}")
    params = dict(params)
    if params.get("deadline_at") is not None:
        try:
            params["deadline_at"] = _iso_utc(params["deadline_at"])
        except ValueError as error:
            problems.append(f"deadline_at: {error}")
    if problems:
        raise ValueError(f"notify({kind!r}): {'; '.join(problems)}")
    return params


def _iso_utc(value: datetime | str) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError("give an aware datetime or an ISO string with its offset")
    return moment.astimezone(UTC).isoformat()


# -- reading (the bell and the list) -------------------------------------------------------------


#: The bell counts this many unread at most and shows "99+" beyond: an approver with
#: thousands unread would otherwise have them all counted on every page they open.
BELL_LIMIT = 100


def unread_count(user_id: int, at_most: int | None = None) -> int:
    """How many notifications the user has not read; with ``at_most``, counting stops
    there (the index on (user, read_at) is read for that many entries only)."""
    if at_most is None:
        return db.session.scalar(_count_unread(False), {"user_id": user_id})
    return db.session.scalar(_count_unread(True), {"user_id": user_id, "at_most": at_most})


@functools.cache
def _count_unread(limited: bool):  # noqa: ANN202
    """Built once: the bell runs it on every page."""
    unread = select(Notification.id).where(
        Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None)
    )
    if limited:
        unread = unread.limit(bindparam("at_most", type_=Integer()))
    return select(func.count()).select_from(unread.subquery())


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; the caller commits."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def mark_read_for_request(user_id: int, request_id: int) -> int:
    """Mark the user's unread notifications about one request read (say, once they acted on
    it); the caller commits."""
    result = db.session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.request_id == request_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def heading(kind: str, params: dict[str, Any]) -> str:
    """What happened, in a few words, in the current language."""
    if kind == "decided":
        return {
            "approved": _("Approved"),
            "rejected": _("Rejected"),
            "declined": _("Declined"),
        }.get(params.get("outcome"), _("Decided"))
    return {
        "action_needed": _("Action needed"),
        "reminder": _("Reminder: action needed"),
        "escalated": _("Escalated to you"),
        "sent_back": _("Sent back for changes"),
        "completed": _("Completed"),
        "comment": _("New comment"),
    }.get(kind, kind)


def summary(notification: Notification) -> str:
    """One line for the list: what happened, and to which request."""
    what = heading(notification.kind, notification.params)
    request = notification.request
    if request is None:
        return what
    return _("%(what)s: %(request)s", what=what, request=request.title)


# -- rendering ---------------------------------------------------------------------------------


def base_url() -> str:
    return str(current_app.config.get("BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def request_url(request: ChangeRequest | None) -> str:
    """The absolute address of the request page (of the notifications page, without one)."""
    if request is None:
        return f"{base_url()}/notifications"
    return f"{base_url()}/requests/{quote(request.number, safe='')}"


def recipient_locale(user: User) -> str:
    """The user's language, else the portal's default; never one Babel does not know."""
    for candidate in (user.locale, current_app.config.get("BABEL_DEFAULT_LOCALE"), "en"):
        if not candidate:
            continue
        try:
            return str(Locale.parse(candidate.replace("-", "_")))
        except (ValueError, TypeError, UnknownLocaleError):
            continue
    return "en"


def recipient_timezone(user: User) -> str:
    """The user's zone, else their organisation's, else the portal's default."""
    organisation = user.organisation
    return (
        valid_zone(user.timezone)
        or (valid_zone(organisation.timezone) if organisation else None)
        or valid_zone(current_app.config.get("BABEL_DEFAULT_TIMEZONE"))
        or "UTC"
    )


def time_in(moment: datetime | str | None, zone: str) -> str | None:
    """A UTC time in ``zone``, formatted in the current language, with the zone's name
    (the same shape as the ``localtime`` filter the screens use)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    locale, tzinfo = get_locale(), ZoneInfo(zone)
    from portal.i18n import zone_abbreviation

    return (
        f"{format_datetime(moment, 'medium', tzinfo=tzinfo, locale=locale)} "
        f"{zone_abbreviation(moment, zone)}"
    )


@contextmanager
def written_for(user: User) -> Iterator[tuple[str, str]]:
    """Render text for ``user``: gettext and get_locale() answer in their language."""
    locale, zone = recipient_locale(user), recipient_timezone(user)
    with force_locale(locale):
        yield locale, zone


def build_message(notification: Notification) -> OutgoingMessage:
    """The notification as its recipient will read it: subject, text and HTML bodies."""
    user = notification.user
    request = notification.request
    params = notification.params or {}
    url = request_url(request)
    with written_for(user) as (locale, zone):
        what = heading(notification.kind, params)
        step = params.get("step_label")
        context = {
            "kind": notification.kind,
            "heading": what,
            "name": user.name,
            "number": request.number if request else None,
            "title": request.title if request else None,
            "url": url,
            "notifications_url": f"{base_url()}/notifications",
            "step_label": admin_text(step) if step else None,
            "deadline": time_in(params.get("deadline_at"), zone),
            "comment": params.get("comment"),
            "outcome": params.get("outcome"),
        }
        if request is None:
            subject = what
        else:
            subject = _(
                "%(what)s: %(number)s %(title)s", what=what, number=request.number,
                title=request.title,
            )  # fmt: skip
        template = f"notifications/email/{notification.kind}"
        text = render_template(f"{template}.txt", **context)
        html = render_template(f"{template}.html", **context)
    return OutgoingMessage(
        recipient=Recipient(email=user.email, name=user.name, locale=locale, timezone=zone),
        subject=" ".join(subject.split()),  # a title may hold a line break; a header may not
        text=text,
        html=html,
        url=url,
        kind=notification.kind,
    )


# -- delivering --------------------------------------------------------------------------------


def retry_delay(attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 1, 2, 4 … minutes, at most an hour,
    less up to a fifth at random so that senders that failed together do not retry together."""
    step = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return step * (1 - 0.2 * rng())


def deliver_pending(limit: int = 100) -> DeliveryReport:
    """Send up to ``limit`` due deliveries, committing after each; safe to run in parallel.

    Call it after the transaction that notified has committed (it uses its own session and
    never touches the caller's). A channel's failure is recorded on its row, never raised;
    a database that stays locked or goes away ends the run early (logged), and the next run
    carries on.
    """
    report = DeliveryReport()
    registered = channels()
    with Session(db.engine) as session:
        try:
            if not _any_due(session):  # a read: an idle scheduler takes no write lock
                return report
            for _round in range(limit):
                claimed = _claim_next(session)
                if claimed is None:
                    break
                delivery_id, attempts = claimed
                error = None
                try:
                    channel, message = _prepare(session, delivery_id, registered)
                    session.commit()  # hold no transaction while the channel talks to the world
                    channel.send(message)
                except Exception as exc:  # any channel failure is recorded, never raised
                    session.rollback()
                    error = _describe(exc)
                    log.warning("notifications: delivery %s failed: %s", delivery_id, error)
                _record(session, delivery_id, attempts, error, report)
        except OperationalError:  # e.g. SQLite still locked after the busy timeout
            session.rollback()
            log.warning("notifications: delivery run stopped early; trying later", exc_info=True)
    return report


def _any_due(session: Session) -> bool:
    D = NotificationDelivery
    found = session.scalar(
        select(D.id)
        .where(D.status == DeliveryStatus.PENDING.value, D.next_attempt_at <= utcnow())
        .limit(1)
    )
    session.commit()  # end the read, so that the claim starts a transaction of its own
    return found is not None


def _claim_next(session: Session) -> tuple[int, int] | None:
    """Take the next due delivery, or None. One UPDATE picks and takes the row, so two
    callers never get the same one; the claim moves its next attempt past a lease."""
    now = utcnow()
    D = NotificationDelivery
    due = (
        select(D.id)
        .where(D.status == DeliveryStatus.PENDING.value, D.next_attempt_at <= now)
        .order_by(D.next_attempt_at, D.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    row = session.execute(
        update(D)
        .where(
            D.id == due.scalar_subquery(),
            D.status == DeliveryStatus.PENDING.value,
            D.next_attempt_at <= now,
        )
        .values(attempts=D.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .returning(D.id, D.attempts)
        .execution_options(synchronize_session=False)
    ).first()
    session.commit()
    return (row[0], row[1]) if row else None


def _prepare(
    session: Session, delivery_id: int, registered: dict[str, NotificationChannel]
) -> tuple[NotificationChannel, OutgoingMessage]:
    delivery = session.get(NotificationDelivery, delivery_id)
    channel = registered.get(delivery.channel)
    if channel is None:
        raise DeliveryError(f"no notification channel named {delivery.channel!r} is installed")
    return channel, build_message(delivery.notification)


def _describe(error: Exception) -> str:
    text = str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
    return text[:2000]


def _record(
    session: Session, delivery_id: int, attempts: int, error: str | None, report: DeliveryReport
) -> None:
    now = utcnow()
    if error is None:
        values: dict[str, Any] = {
            "status": DeliveryStatus.SENT.value, "sent_at": now, "last_error": None,
        }  # fmt: skip
        report.sent += 1
    elif attempts >= MAX_ATTEMPTS:
        values = {"status": DeliveryStatus.FAILED.value, "last_error": error}
        report.failed += 1
        log.error("notifications: delivery %s given up after %s attempts", delivery_id, attempts)
    else:
        values = {"last_error": error, "next_attempt_at": now + retry_delay(attempts)}
        report.retrying += 1
    session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
