"""The person's own settings: language and time zone, and the language switcher that is
on every page (the sign-in page too)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from babel import Locale
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required

from portal.accounts import bp
from portal.accounts.routes import _safe_next
from portal.extensions import db
from portal.i18n import available_locales, valid_zone


def languages() -> list[tuple[str, str]]:
    """Each shipped language, named in itself (English, Deutsch, 中文 (简体), العربية)."""
    return _named(tuple(available_locales()))


@lru_cache(maxsize=8)
def _named(codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """The switcher on every page names the same languages: Babel is asked once."""
    return [(code, Locale.parse(code).get_display_name(code)) for code in codes]


@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


@bp.post("/language")
def choose_language():
    """Switch the language: remembered in this browser, and in the profile when signed in."""
    code = request.form.get("locale", "")
    if code in available_locales():
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
        refresh()
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    user = current_user._get_current_object()
    errors: dict[str, str] = {}
    if request.method == "POST":
        code = request.form.get("locale", "")
        zone = request.form.get("timezone", "")
        if code and code not in available_locales():
            errors["locale"] = _("Choose one of the listed languages.")
        if zone and not valid_zone(zone):
            errors["timezone"] = _("Choose a time zone from the list, such as Europe/Berlin.")
        if not errors:
            user.locale = code or None
            user.timezone = zone or None
            if code:
                session["locale"] = code
            db.session.commit()
            refresh()
            flash(_("Your settings are saved."), "info")
            return redirect(url_for("accounts.profile"))
    status = 422 if errors else 200
    from portal.accounts.away import away_context

    return render_template(
        "accounts/profile.html",
        languages=languages(),
        zones=time_zones(),
        errors=errors,
        default_zone=current_app.config["BABEL_DEFAULT_TIMEZONE"],
        **away_context(user),
    ), status
