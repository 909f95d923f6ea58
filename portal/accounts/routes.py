"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select

from portal.accounts import bp
from portal.accounts.forms import LoginForm
from portal.accounts.models import User
from portal.accounts.passwords import verify_password
from portal.accounts.sessions import begin_session, end_session
from portal.accounts.throttle import record_attempt, seconds_until_allowed
from portal.extensions import db


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and "\\" not in target:
            return target
    return url_for("requests.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        ip = request.remote_addr
        wait = seconds_until_allowed(email, ip)
        if wait:
            record_attempt(email, ip, request.user_agent.string, False, "throttled")
            db.session.commit()
            minutes = max(1, (wait + 59) // 60)
            form.form_errors.append(
                ngettext(
                    "Too many failed attempts. Try again in %(num)d minute.",
                    "Too many failed attempts. Try again in %(num)d minutes.",
                    minutes,
                )
            )
            response = render_template("accounts/login.html", form=form)
            return response, 429, {"Retry-After": str(wait)}
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if (
            user is not None
            and user.active
            and verify_password(user.password_hash, form.password.data)
        ):
            record_attempt(email, ip, request.user_agent.string, True, "ok")
            begin_session(user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        if user is None:
            verify_password(None, form.password.data)  # same cost as a wrong password
        reason = "unknown-user" if user is None else ("inactive" if not user.active else "password")
        record_attempt(email, ip, request.user_agent.string, False, reason)
        db.session.commit()
        form.form_errors.append(_("That e-mail address and password do not match."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    end_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))
