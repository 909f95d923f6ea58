"""Language and time zone: who sees which, and how times are shown.

The language is the person's own choice (profile), else the one they picked in this
browser, else the browser's Accept-Language. The time zone is the profile's, else the
browser's (sent by portal.js in the ``tz`` cookie), else the organisation's, else the
portal default. Times are stored in UTC and only turned local when shown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import tzinfo as tzinfo_type
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import get_date_format, get_datetime_format, get_time_format, parse_pattern
from babel.localedata import locale_identifiers
from flask import Flask, current_app, g, request, session
from flask_babel import format_datetime, get_locale, get_timezone
from flask_login import current_user

from portal.extensions import babel
from portal.forms.definition import localize


def available_locales() -> list[str]:
    """English plus every language with a catalogue in translations/."""
    from portal import PROJECT_ROOT

    found = {"en"}
    folder = PROJECT_ROOT / "translations"
    if folder.is_dir():
        found |= {p.name for p in folder.iterdir() if (p / "LC_MESSAGES").is_dir()}
    return sorted(found)


def valid_zone(name: str | None) -> str | None:
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def select_locale() -> str:
    user = current_user
    if user and user.is_authenticated and user.locale:
        return user.locale
    chosen = session.get("locale")
    locales = current_app.config.setdefault("PORTAL_LOCALES", available_locales())
    if chosen in locales:
        return chosen
    return browser_locale(locales) or current_app.config["BABEL_DEFAULT_LOCALE"]


def browser_locale(locales: list[str]) -> str | None:
    """The browser's first language we have, keeping its region for dates and numbers:
    en-GB reads English messages with British dates."""
    for tag, _quality in request.accept_languages:
        try:
            wanted = Locale.parse(tag.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            continue
        for name in locales:
            have = Locale.parse(name)
            if have.language != wanted.language:
                continue
            if have.script or have.territory or not wanted.territory:
                return name
            regional = f"{have.language}_{wanted.territory}"
            return regional if regional in locale_identifiers() else name
    return None


def select_timezone() -> str:
    user = current_user
    if user and user.is_authenticated and valid_zone(user.timezone):
        return user.timezone
    browser = valid_zone(unquote(request.cookies.get("tz", "")))
    if browser:
        return browser
    if (
        user
        and user.is_authenticated
        and user.organisation
        and valid_zone(user.organisation.timezone)
    ):
        return user.organisation.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def local_time(moment: datetime | None, format: str = "medium") -> str:
    """A stored UTC time in the viewer's zone, with the zone's abbreviation (CET, EST, CST)."""
    if moment is None:
        return ""
    if format in NAMED_FORMATS:
        return _time_format(format)(moment)
    return f"{format_datetime(moment, format)} {zone_abbreviation(moment)}"


NAMED_FORMATS = frozenset({"short", "medium", "long", "full"})


class TimeFormat:
    """One of the language's named date-and-time formats in one zone, looked up once.

    Babel's ``format_datetime`` finds the locale, the zone and three patterns again for every
    time it formats; a list of 50 or 100 rows asks the same of it each time. This keeps them
    and does exactly what Babel does with them (the same text, checked by the tests).
    """

    def __init__(self, format: str, locale: Locale, tzinfo: tzinfo_type) -> None:
        self.locale = locale
        self.zone = ZoneInfo(str(tzinfo))
        self.outer = get_datetime_format(format, locale=locale).replace("'", "")
        self.date = parse_pattern(get_date_format(format, locale=locale))
        self.time = parse_pattern(get_time_format(format, locale=locale))

    def __call__(self, moment: datetime) -> str:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(self.zone)  # zoneinfo: the same wall time as pytz, faster
        day = local.date()
        text = self.outer.replace(
            "{0}", self.time.apply(local.timetz(), self.locale, reference_date=day)
        ).replace("{1}", self.date.apply(day, self.locale))
        return f"{text} {local.tzname() or 'UTC'}"


def _time_format(format: str) -> TimeFormat:
    """The viewer's ``TimeFormat``, made once per request (and per language, for messages
    written in someone else's)."""
    locale, tzinfo = get_locale(), get_timezone()
    cache = g.setdefault("portal_time_formats", {})
    key = (locale, tzinfo, format)  # Babel's locales and the zones compare by their names
    found = cache.get(key)
    if found is None:
        found = cache[key] = TimeFormat(format, locale, tzinfo)
    return found


def zone_abbreviation(moment: datetime, zone: str | None = None) -> str:
    """The zone's everyday abbreviation at that moment (CET or CEST, EST or EDT, JST),
    from the tz database; zones that have none show their offset (+04)."""
    return moment.astimezone(ZoneInfo(zone or str(get_timezone()))).tzname() or "UTC"


def translated(text) -> str:  # noqa: ANN001
    """``str(text)`` of a lazy text made at import time (a status, a step kind), translated
    once per request and language rather than once per row that shows it."""
    cache = g.setdefault("portal_translated", {})
    key = (id(text), get_locale())
    found = cache.get(key)
    if found is None:
        found = cache[key] = str(text)
    return found


def admin_text(texts, default_language: str = "en") -> str:  # noqa: ANN001
    """Text an admin wrote, in the viewer's language when the admin gave it. Never gettext:
    it is escaped like any other data when rendered."""
    if isinstance(texts, str):
        return texts
    return localize(texts or {}, str(get_locale()), default_language)


def _lazy_strings_are_text() -> None:
    """Flask-Babel's lazy strings call themselves HTML (``__html__`` returns the text as it
    is), so ``_l("Group %(name)s exists", name=typed)`` would reach a page unescaped. The
    portal's messages hold no markup: a lazy string is text and Jinja escapes it."""
    from flask_babel.speaklater import LazyString
    from markupsafe import escape

    LazyString.__html__ = lambda self: str(escape(str(self)))


def init_app(app: Flask) -> None:
    from portal import PROJECT_ROOT

    _lazy_strings_are_text()

    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories=str(PROJECT_ROOT / "translations"),
    )
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["admin_text"] = admin_text
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["get_timezone"] = get_timezone
