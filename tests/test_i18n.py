"""Language and time zone: chosen per person, times stored in UTC and shown in the
viewer's zone with its abbreviation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.extensions import db
from portal.requests.models import ChangeRequest
from tests.conftest import csrf_token

ANSWERS = {
    "title": "Timed request",
    "description": "When was it sent?",
    "reason": "business",
    "business_value": "low",
    "affected_systems": ["crm"],
}


def page_text(response) -> str:
    """The page as a reader sees it: Babel's narrow and no-break spaces read as spaces."""
    return response.get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " ")


def _submit_at(app, client, moment: datetime) -> str:
    token = csrf_token(client, "/forms/change-request/new")
    response = client.post("/forms/change-request/submit", data={**ANSWERS, "csrf_token": token})
    number = response.location.split("/")[2]
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest).where(ChangeRequest.number == number))
        change.submitted_at = moment
        db.session.commit()
    return number


def test_the_same_request_shows_each_viewer_their_own_time(app, accounts, change_request_form):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    zones = {
        "sh@portal.test": "Asia/Shanghai",
        "berlin@portal.test": "Europe/Berlin",
        "ny@portal.test": "America/New_York",
    }
    for email, zone in zones.items():
        accounts.user(email, Role.APPROVER, timezone=zone)
    dana = app.test_client()
    accounts.login(dana, "dana@acme.test")
    number = _submit_at(app, dana, datetime(2026, 11, 23, 14, 30, tzinfo=UTC))
    expected = {
        "sh@portal.test": "10:30:00 PM",
        "berlin@portal.test": "3:30:00 PM",
        "ny@portal.test": "9:30:00 AM",
    }
    for email, clock in expected.items():
        viewer = app.test_client()
        accounts.login(viewer, email)
        page = page_text(viewer.get(f"/requests/{number}"))
        assert clock in page, (email, clock)
    with app.app_context():  # stored once, in UTC
        stored = db.session.scalar(select(ChangeRequest)).submitted_at
        assert stored == datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def test_without_a_profile_zone_the_browsers_zone_is_used(
    app, client, accounts, change_request_form
):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    accounts.login(client, "dana@acme.test")
    number = _submit_at(app, client, datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    client.set_cookie("tz", "Asia/Tokyo")
    assert "9:00:00 PM JST" in page_text(client.get(f"/requests/{number}"))
    client.set_cookie("tz", "Not/AZone")  # a made-up zone is ignored: the default applies
    assert "12:00:00 PM UTC" in page_text(client.get(f"/requests/{number}"))


def test_a_british_browser_gets_british_dates(app, client, accounts, change_request_form):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org, timezone="Europe/London")
    accounts.login(client, "dana@acme.test")
    number = _submit_at(app, client, datetime(2026, 11, 23, 14, 30, tzinfo=UTC))
    british = client.get(f"/requests/{number}", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "23 Nov 2026, 14:30:00 GMT" in page_text(british)
    american = client.get(f"/requests/{number}", headers={"Accept-Language": "en-US"})
    assert "Nov 23, 2026, 2:30:00 PM GMT" in page_text(american)


def test_the_profile_language_wins(app, client, accounts):
    accounts.user("bo@portal.test", Role.APPROVER, locale="de")
    accounts.login(client, "bo@portal.test")
    html = client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="de"' in html
    with app.app_context():
        assert db.session.scalar(select(User)).locale == "de"


def test_money_numbers_and_dates_read_the_way_each_reader_writes_them(
    app, accounts, change_request_form
):
    org = accounts.organisation()
    accounts.user("dana@acme.test", Role.CLIENT, org)
    dana = app.test_client()
    accounts.login(dana, "dana@acme.test")
    token = csrf_token(dana, "/forms/change-request/new")
    answers = {
        **ANSWERS,
        "budget": "1250.5",
        "budget__currency": "EUR",
        "desired_date": "2027-03-01",
    }
    response = dana.post("/forms/change-request/submit", data={**answers, "csrf_token": token})
    number = response.location.split("/")[2]
    expected = {
        "en": ("€1,250.50", "Mar 1, 2027"),
        "de": ("1.250,50\u00a0€", "01.03.2027"),
        "fr": ("1\u202f250,50\u00a0€", "1 mars 2027"),
        "ja": ("€1,250.50", "2027/03/01"),
    }
    for language, (money, day) in expected.items():
        email = f"reader-{language}@portal.test"
        accounts.user(email, Role.APPROVER, locale=language)
        reader = app.test_client()
        accounts.login(reader, email)
        page = reader.get(f"/requests/{number}").get_data(as_text=True)
        assert money in page, (language, money)
        assert day in page, (language, day)


def test_times_in_lists_read_exactly_as_babel_writes_them(app):
    """The list and the inbox format their times with patterns looked up once per page;
    the text is the one Babel's own format_datetime gives, in every language and zone."""
    from flask_babel import format_datetime

    from portal.i18n import local_time, zone_abbreviation

    moments = [
        datetime(2026, 1, 5, 8, 30, tzinfo=UTC),
        datetime(2026, 7, 14, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # the night Europe moves its clocks
        datetime(2026, 12, 31, 16, 5),  # naive, as SQLite would give it: read as UTC
    ]
    for language in ("en", "en-GB", "de", "fr", "es", "ja", "ar", "zh-Hans"):
        for zone in ("UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Asia/Dubai"):
            headers = {"Accept-Language": language, "Cookie": f"tz={zone}"}
            with app.test_request_context("/", headers=headers):
                for format in ("short", "medium", "long", "full"):
                    for moment in moments:
                        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
                        expected = f"{format_datetime(aware, format)} {zone_abbreviation(aware)}"
                        assert local_time(moment, format) == expected, (language, zone, format)


def test_a_lazy_message_with_typed_text_in_it_is_escaped_on_a_page(app_ctx):
    from flask import render_template_string
    from flask_babel import lazy_gettext as _l

    message = _l("%(email)s is deactivated", email='<script>alert(1)</script>"')
    page = render_template_string("<p>{{ message }}</p>", message=message)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34; is deactivated" in page
