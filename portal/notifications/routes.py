"""The bell, the list of one's notifications, and marking them read."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.database import utcnow
from portal.extensions import db
from portal.notifications import bp
from portal.notifications.models import Notification
from portal.notifications.service import BELL_LIMIT, mark_all_read, summary, unread_count

PAGE_SIZE = 50


def unread_for_current_user() -> int:
    """The bell's count (a template global, so base.html can include the bell as is)."""
    if not current_user or not current_user.is_authenticated:
        return 0
    return unread_count(current_user.id, at_most=BELL_LIMIT)


def own_or_404(notification_id: int) -> Notification:
    """One of the signed-in user's notifications; anyone else's is 404, like a missing one."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    return notification


@bp.get("/notifications")
@login_required
def index():
    """The signed-in user's notifications, newest first. Looking does not mark them read."""
    page = max(request.args.get("page", 1, type=int), 1)
    rows = db.session.scalars(
        db.select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return render_template(
        "notifications/index.html",
        rows=rows[:PAGE_SIZE],
        has_more=len(rows) > PAGE_SIZE,
        page=page,
        unread_count=unread_count(current_user.id),
        summary=summary,
    )


@bp.get("/notifications/bell")
def bell():
    """The bell alone, for htmx to poll. Signed out, there is nothing to swap in (204)."""
    if not current_user.is_authenticated:
        return "", 204
    count = unread_count(current_user.id, at_most=BELL_LIMIT)
    return render_template("notifications/_bell.html", unread_count=count)


@bp.post("/notifications/read")
@login_required
def read_all():
    """Mark all read: htmx gets the bell back, a plain form the list again."""
    mark_all_read(current_user.id)
    db.session.commit()
    if request.headers.get("HX-Request"):
        return render_template("notifications/_bell.html", unread_count=0)
    return redirect(url_for("notifications.index"))


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read_one(notification_id: int):
    """Mark one read: htmx gets the row back (and the bell, out of band)."""
    notification = own_or_404(notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    if request.headers.get("HX-Request"):
        return render_template(
            "notifications/_read_one.html",
            n=notification,
            summary=summary,
            unread_count=unread_count(current_user.id),
        )
    return redirect(url_for("notifications.index"))
