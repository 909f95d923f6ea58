"""Admin-entered text renders as text everywhere the designer puts it.

Each payload goes through every text input of the designer (title, description, labels,
help, placeholders, choice labels and values, section headings, default answers; names,
conditions, patterns and defaults that do not fit where they are refused), then every
page that shows it is parsed as a browser parses it: the editor's answer, the editor and
its preview, the difference before publishing, the versions and lists, the client's fill
page and the YAML export. No page may gain a script element, an event attribute (on…), an
htmx attribute (hx-…) or a javascript: link compared with the same page made from
harmless text.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from portal.accounts.models import Role
from tests.designer.page import elements, form_values, text_of

PAYLOADS = [
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "' onfocus='alert(1)' autofocus='",
    "<img src=x onerror=alert(1)>",
    '<svg onload="alert(1)">',
    'x" hx-get="/admin" hx-trigger="load',
    "<div hx-post='/admin/forms/new' hx-trigger='load'>x</div>",
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">link</a>',
    "{{7*7}} {% raw %}",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "]]><!--<script>alert(1)</script>-->",
]
HARMLESS = "Plain words"
LINK_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href"}


def fingerprint(html: str) -> Counter:
    """What a payload must not add: scripts, event and htmx attributes, javascript: links."""
    found = Counter()
    for tag, attrs in elements(html):
        if tag in ("script", "iframe", "object", "embed", "base", "meta", "svg", "img"):
            found[(tag, dict(attrs).get("src") or dict(attrs).get("name") or "")] += 1
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-") or name.startswith("data-hx"):
                found[(tag, name)] += 1
            if name in LINK_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                found[(tag, name, "javascript:")] += 1
            if name == "autofocus":
                found[(tag, name)] += 1
    return found


def fill_in(designer, draft: int, text: str) -> list:
    """Put ``text`` in every text input of a form with one question of each kind that
    shows text; returns the editor's answers (fragments) to check them too."""
    answers = []
    for kind in ("text", "select", "section", "money", "file", "checkbox"):
        answers.append(designer.post(draft, {"op": f"add:{kind}"}))
    values = {"form.title.en": text, "form.title.de": text, "form.description.en": text}
    for index in range(6):
        for key in ("label", "help", "placeholder"):
            for lang in ("en", "zh_Hans"):
                values[f"f{index}.{key}.{lang}"] = text
    for option in (0, 1):
        values[f"f1.o{option}.label.en"] = text
    values["f1.o0.value"] = text  # a value is text too, and the loader accepts it
    values.update({"f0.default_kind": "text", "f0.default": text})  # a default answer,
    values.update({"f1.default_kind": "option", "f1.default": text})  # and a chosen one
    answers.append(designer.post(draft, values))
    return answers


def pages_of(app, designer, accounts, text: str, name: str) -> dict[str, str]:
    """Every designer page and fragment that shows the text, and the client's fill page."""
    draft = designer.create(name, "Title")
    answers = fill_in(designer, draft, text)
    pages = {f"editor answer {i}": a.get_data(as_text=True) for i, a in enumerate(answers)}
    pages["editor"] = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    pages["difference"] = designer.browser.get(f"/admin/forms/drafts/{draft}/publish").get_data(
        as_text=True
    )
    pages["index with draft"] = designer.browser.get("/admin/forms/").get_data(as_text=True)
    exported = designer.browser.get(f"/admin/forms/drafts/{draft}/export.yaml")
    token = designer.token(f"/admin/forms/drafts/{draft}/publish")
    published = designer.browser.post(
        f"/admin/forms/drafts/{draft}/publish", data={"csrf_token": token}
    )
    assert published.status_code == 302, published.get_data(as_text=True)[-3000:]
    pages["versions"] = designer.browser.get(published.location).get_data(as_text=True)
    pages["index"] = designer.browser.get("/admin/forms/").get_data(as_text=True)
    client = app.test_client()
    accounts.login(client, "dana@acme.test")
    pages["fill"] = client.get(f"/forms/{name}/new").get_data(as_text=True)
    pages["forms list"] = client.get("/forms/").get_data(as_text=True)
    # The second version's difference names the changed texts.
    token = designer.token(f"/admin/forms/{name}/versions")
    opened = designer.browser.post(f"/admin/forms/{name}/edit", data={"csrf_token": token})
    second = int(opened.location.rsplit("/", 1)[1])
    designer.post(
        second,
        {
            "f0.label.fr": text,
            "f0.name": "renamed",
            "f1.default_kind": "option",
            "f1.default": "",  # the difference shows the default that goes
        },
    )
    pages["difference 2"] = designer.browser.get(f"/admin/forms/drafts/{second}/publish").get_data(
        as_text=True
    )
    pages["export"] = exported
    return pages


@pytest.fixture
def client_account(accounts):
    org = accounts.organisation("Acme Ltd")
    accounts.user("dana@acme.test", Role.CLIENT, org)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_in_every_text_input_stays_text_on_every_page(
    app, designer, accounts, client_account, payload
):
    clean = pages_of(app, designer, accounts, HARMLESS, "clean-form")
    dirty = pages_of(app, designer, accounts, payload, "dirty-form")
    for page, html in dirty.items():
        if page == "export":
            continue
        assert fingerprint(html) == fingerprint(clean[page]), page
    assert payload in text_of(dirty["fill"])  # shown to the client as the text it is
    assert payload in text_of(dirty["editor"])
    assert payload in text_of(dirty["difference 2"])  # the default that goes, as text
    fill = dict(form_values(dirty["fill"], "entry"))
    assert fill["text"] == payload and fill["select"] == payload  # the defaults, as given
    exported = dirty["export"]
    assert exported.mimetype == "application/yaml"
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    data = yaml.safe_load(exported.get_data(as_text=True))
    assert data["title"]["en"] == payload  # exactly what was typed, as data


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_refused_payload_is_shown_as_text_beside_its_input(designer, payload):
    """Names, conditions and patterns refuse such text; the refusal quotes it, as text."""
    draft = designer.create("clean-name", "Title")
    designer.post(draft, {"op": "add:text"})
    designer.post(draft, {"op": "add:text"})
    designer.post(draft, {"f1.cond_mode": "advanced"})
    designer.post(draft, {"op": "add:select"})
    designer.post(draft, {"op": "add:date"})
    baseline = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    answer = designer.post(
        draft,
        {
            "form.name": payload,
            "form.number_prefix": payload,
            "f0.name": payload,
            "f0.pattern_preset": "custom",
            "f0.pattern": payload,
            "f1.cond_mode": "advanced",
            "f1.visible_if": payload,
            "f2.default_kind": "option",
            "f2.default": payload,  # not one of the choices: the message quotes it
            "f3.default_kind": "date",
            "f3.default": payload,  # not a date: kept in its box, as text
        },
    )
    assert answer.status_code == 200
    page = designer.browser.get(f"/admin/forms/drafts/{draft}").get_data(as_text=True)
    review = designer.browser.get(f"/admin/forms/drafts/{draft}/publish")
    assert review.status_code == 200
    assert "Fix these first" in review.get_data(as_text=True)
    assert payload in text_of(page.split('id="p-fields-2-default"', 1)[1].split("</p>", 1)[0])
    assert dict(form_values(page, "editor"))["f3.default"] == payload
    for html in (answer.get_data(as_text=True), page, review.get_data(as_text=True)):
        found = fingerprint(html)
        allowed = fingerprint(baseline)
        extra = {key: n for key, n in found.items() if n > allowed.get(key, 0)}
        # The answer and the page draw the editor; the review draws none: never more.
        assert not {k: v for k, v in extra.items() if k[1] != "hx-swap-oob"}, extra
