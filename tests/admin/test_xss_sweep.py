"""Admin-entered text renders as text everywhere.

Every payload below goes through every admin text field of the admin pages (a table of
forms and their fields: add the designer's forms to ``FORMS`` and the pages that show them
to ``PAGES``), then a client of the organisation sends a request, and every page that shows
those texts (admin lists and detail pages, the request list and page, the inbox, the
notifications, the navigation of each page) is fetched by an admin, an approver and the
client, parsed with ``html.parser`` and checked: no script element but the portal's own
files, no event attribute, no htmx attribute carrying a payload, no ``javascript:`` URL,
and the payload shown as the text it is. Refused submissions (shown again with their
errors) are checked the same way, and so are the Inbound calls pages, where each payload
comes as a delivery id a tool gave its call.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from portal.accounts.models import Organisation, User
from portal.approvals.models import Calendar, Group
from portal.extensions import db
from portal.integrations.models import InboundReceipt
from portal.requests.models import ChangeRequest
from tests.conftest import CSRF_PATTERN, csrf_token

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    '"><a hx-get="/admin/xss" hx-trigger="load">x</a>',
    '" hx-on:click="alert(1)" x="',
    "javascript:alert(1)",
    "{{7*7}} {% print 7*7 %}",
    "<svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    '<iframe src="javascript:alert(1)">',
    "<a href='javascript:alert(1)'>x</a>",
    "<form hx-post=/admin/xss><button>x</button></form>",
]

PASSWORD = "a long client password"


@dataclass(frozen=True)
class AdminForm:
    """One admin form: where it is posted, its fields (``{payload}`` and ``{n}`` filled in
    per payload; ``{org}``, ``{approver}``, ... from rows made before it), and which of
    its fields are admin text."""

    label: str
    row: str  # the key of the row it makes, in ``_ids``
    url: str
    fields: dict[str, object]
    text_fields: tuple[str, ...]
    refused: dict[str, object] = field(default_factory=dict)  # fields that make it fail


FORMS = [
    AdminForm(
        "calendar",
        "calendar",
        "/admin/calendars/new",
        {
            "name": "{payload} {n}",
            "zone": "Europe/Berlin",
            "workdays": ["0", "1", "2", "3", "4"],
            "day_starts": "09:00",
            "day_ends": "17:00",
            "country": "",
            "subdivision": "",
            "closed_days": "",
        },
        ("name",),
        {"day_ends": "08:00", "subdivision": "{payload}", "closed_days": "{payload}"},
    ),  # fmt: skip
    AdminForm(
        "organisation",
        "org",
        "/admin/organisations/new",
        {"name": "{payload} {n}", "timezone": "", "calendar_id": "{calendar}"},
        ("name",),
        {"timezone": "{payload}"},
    ),
    AdminForm(
        "client",
        "client",
        "/admin/people/new",
        {
            "name": "{payload} {n}",
            "email": "client{n}@acme.test",
            "role": "client",
            "organisation_id": "{org}",
            "locale": "",
            "timezone": "",
            "calendar_id": "",
            "password": PASSWORD,
        },
        ("name",),
        {"email": "{payload}", "organisation_id": ""},
    ),  # fmt: skip
    AdminForm(
        "approver",
        "approver",
        "/admin/people/new",
        {
            "name": "{payload} {n}",
            "email": "approver{n}@portal.test",
            "role": "approver",
            "organisation_id": "",
            "locale": "",
            "timezone": "",
            "calendar_id": "{calendar}",
            "password": PASSWORD,
        },
        ("name",),
    ),  # fmt: skip
    AdminForm(
        "group",
        "group",
        "/admin/groups/",
        {"name": "g{n}", "title": "{payload} {n}"},
        ("title",),
        {"name": "{payload}"},
    ),
]

#: The pages that show what the forms made, with who fetches them.
PAGES = [
    ("admin", "/admin/"),
    ("admin", "/admin/people/"),
    ("admin", "/admin/people/?q=1"),
    ("admin", "/admin/people/{client}"),
    ("admin", "/admin/people/{approver}"),
    ("admin", "/admin/people/{ada}"),
    ("admin", "/admin/roles/"),
    ("admin", "/admin/organisations/"),
    ("admin", "/admin/organisations/{org}"),
    ("admin", "/admin/organisations/{org}/delete"),  # refused: its client is named
    ("admin", "/admin/groups/"),
    ("admin", "/admin/groups/{group}"),
    ("admin", "/admin/groups/{group}/delete"),  # its title and members are named
    ("admin", "/admin/delegations/"),
    ("admin", "/admin/calendars/"),
    ("admin", "/admin/calendars/{calendar}"),
    ("admin", "/admin/calendars/{calendar}/delete"),  # refused: who counts in it is named
    ("admin", "/admin/inbound"),
    ("admin", "/admin/inbound/{receipt}"),
    ("admin", "/"),
    ("admin", "/requests/{number}"),
    ("admin", "/inbox"),
    ("admin", "/profile"),
    ("approver", "/"),
    ("approver", "/requests/{number}"),
    ("approver", "/inbox"),
    ("approver", "/notifications"),
    ("approver", "/profile"),
    ("client", "/"),
    ("client", "/requests/{number}"),
    ("client", "/notifications"),
]

ALLOWED_SCRIPTS = {
    "/static/vendor/htmx-2.0.11.min.js",
    "/static/js/conditions.js",
    "/static/js/portal.js",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "hx-get", "hx-post", "xlink:href"}
MARKERS = ("alert", "xss", "7*7")


class Checker(HTMLParser):
    """Collects every way a page could run something it was not meant to."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("script", "iframe", "object", "embed"):
            src = (values.get("src") or "").split("?")[0]
            if tag != "script" or src not in ALLOWED_SCRIPTS:
                self.problems.append(f"<{tag} {attrs}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event attribute {name}={value!r} on <{tag}>")
            if name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"{name} on <{tag}>")
            if name.startswith(("hx-", "data-hx-")) and any(m in value for m in MARKERS):
                self.problems.append(f"{name}={value!r} on <{tag}>")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def check(body: str, where: str) -> str:
    """The page's text, after failing on anything runnable in it."""
    checker = Checker()
    checker.feed(body)
    checker.close()
    assert not checker.problems, (where, checker.problems)
    return "".join(checker.text)


def _fill(value, payload: str, n: int, made: dict):
    if isinstance(value, dict):
        return {key: _fill(v, payload, n, made) for key, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, payload, n, made) for v in value]
    text = str(value).replace("{payload}", payload).replace("{n}", str(n))
    for key, row_id in made.items():
        text = text.replace("{" + key + "}", str(row_id))
    return text


def _ids(app, n: int) -> dict:
    """The rows the forms made for payload ``n``."""
    with app.app_context():

        def one(model, column, value):
            return db.session.scalar(select(model.id).where(column.like(value)))

        return {
            "calendar": one(Calendar, Calendar.name, f"% {n}"),
            "org": one(Organisation, Organisation.name, f"% {n}"),
            "client": one(User, User.email, f"client{n}@acme.test"),
            "approver": one(User, User.email, f"approver{n}@portal.test"),
            "group": one(Group, Group.name, f"g{n}"),
        }


@pytest.fixture
def admin_browser(app, accounts):
    from portal.accounts.models import Role

    accounts.user("ada@portal.test", Role.ADMIN, name="Ada Admin")
    browser = app.test_client()
    accounts.login(browser, "ada@portal.test")
    return browser


def _post(browser, url: str, data: dict):
    """Post as the page would, after checking the page the token is read from (it carries
    the flash message of the post before, which may quote a payload)."""
    page = browser.get("/admin/").get_data(as_text=True)
    check(page, "/admin/ with the last flash message")
    token = CSRF_PATTERN.search(page).group(1)
    return browser.post(url, data={**data, "csrf_token": token})


def test_no_payload_in_any_admin_field_runs_on_any_page(
    app, accounts, admin_browser, change_request_form
):
    made_by_payload = []
    for n, payload in enumerate(PAYLOADS):
        made: dict = {}
        for form in FORMS:
            if form.refused:  # the refused form shows the payload back, with its errors
                refused = {**form.fields, **form.refused}
                response = _post(admin_browser, form.url, _fill(refused, payload, n, made))
                assert response.status_code == 422, (form.label, payload, response.status_code)
                check(response.get_data(as_text=True), f"refused {form.label}: {payload}")
            response = _post(admin_browser, form.url, _fill(form.fields, payload, n, made))
            assert response.status_code in (200, 302), (form.label, payload, response.status_code)
            made = _ids(app, n)
            assert made[form.row], (form.label, payload)
        # the approver sits on the board, approves for the organisation, stands in for Ada
        _post(
            admin_browser, f"/admin/groups/{made['group']}/members", {"user_id": made["approver"]}
        )
        _post(
            admin_browser,
            f"/admin/organisations/{made['org']}/approvers",
            {"user_id": made["approver"]},
        )
        made_by_payload.append(made)

    with app.app_context():
        ada = db.session.scalar(select(User.id).where(User.email == "ada@portal.test"))
    from portal.database import utcnow

    today = utcnow().date().isoformat()
    _post(
        admin_browser,
        "/admin/delegations/",
        {"user_id": str(ada), "delegate_id": str(made_by_payload[0]["approver"]),
         "starts_on": today, "ends_on": today},
    )  # fmt: skip

    client = app.test_client()
    accounts.login(client, "client0@acme.test", PASSWORD)
    token = csrf_token(client, "/forms/change-request/new")
    sent = client.post(
        "/forms/change-request/submit",
        data={"title": "A change", "description": "Please", "reason": "business",
              "business_value": "medium", "affected_systems": ["crm"], "csrf_token": token},
    )  # fmt: skip
    assert sent.status_code == 302, sent.get_data(as_text=True)[:500]
    with app.app_context():
        number = db.session.scalar(select(ChangeRequest.number))
    approver = app.test_client()
    accounts.login(approver, "approver0@portal.test", PASSWORD)
    browsers = {"admin": admin_browser, "approver": approver, "client": client}
    # A tool names its own calls: each payload as the delivery id of a call to a webhook.
    for payload in PAYLOADS:
        app.test_client().post(
            "/hooks/jira/999999", data=b"{}", headers={"X-Atlassian-Webhook-Identifier": payload}
        )
    with app.app_context():
        receipt = db.session.scalar(select(InboundReceipt.id).order_by(InboundReceipt.id))

    first = made_by_payload[0]
    for who, template in PAGES:
        path = template.format(number=number, ada=ada, receipt=receipt, **first)
        response = browsers[who].get(path)
        assert response.status_code == 200, (who, path, response.status_code)
        check(response.get_data(as_text=True), f"{who} {path}")
    # every payload shows as the text it is on the lists
    for path in ("/admin/people/", "/admin/organisations/", "/admin/groups/", "/admin/calendars/"):
        text = check(admin_browser.get(path).get_data(as_text=True), path)
        for n, payload in enumerate(PAYLOADS):
            assert f"{payload} {n}" in text, (path, payload)
    text = check(admin_browser.get("/admin/inbound").get_data(as_text=True), "/admin/inbound")
    assert all(payload in text for payload in PAYLOADS)
    for n, made in enumerate(made_by_payload):  # and on each detail page
        for path in (
            f"/admin/people/{made['client']}",
            f"/admin/groups/{made['group']}",
            f"/admin/organisations/{made['org']}",
            f"/admin/calendars/{made['calendar']}",
        ):
            text = check(admin_browser.get(path).get_data(as_text=True), path)
            assert f"{PAYLOADS[n]} {n}" in html.unescape(text), (path, PAYLOADS[n])
    # the request page names the client and the organisation as text
    page = check(client.get(f"/requests/{number}").get_data(as_text=True), "request")
    assert f"{PAYLOADS[0]} 0" in page
