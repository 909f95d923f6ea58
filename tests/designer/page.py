"""Reading the designer's pages as a browser does: the values a form would post, and every
element with its attributes (for the safety checks)."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    """Collects what a <form id=...> would post: inputs, checked boxes, selected options,
    textareas; disabled controls and buttons are left out, as browsers do."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.depth = 0  # > 0 inside the form
        self.values: list[tuple[str, str]] = []
        self.select: str | None = None
        self.select_first: tuple[str, str] | None = None
        self.select_chosen = False
        self.option: dict | None = None
        self.option_text = ""
        self.textarea: str | None = None
        self.textarea_text = ""

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "form":
            self.depth += 1
        disabled = "disabled" in a
        if tag == "input" and a.get("name") and not disabled:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "image", "reset", "file"):
                self.values.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name") and not disabled:
            self.select, self.select_first, self.select_chosen = a["name"], None, False
        elif tag == "option" and self.select:
            self.option, self.option_text = a, ""
        elif tag == "textarea" and a.get("name") and not disabled:
            self.textarea, self.textarea_text = a["name"], ""

    def handle_data(self, data):  # noqa: ANN001
        if self.option is not None:
            self.option_text += data
        if self.textarea is not None:
            self.textarea_text += data

    def handle_endtag(self, tag):  # noqa: ANN001
        if not self.depth:
            return
        if tag == "option" and self.option is not None:
            value = self.option.get("value", self.option_text)
            if self.select_first is None:
                self.select_first = (self.select, value)
            if "selected" in self.option:
                self.values.append((self.select, value))
                self.select_chosen = True
            self.option = None
        elif tag == "select" and self.select:
            if not self.select_chosen and self.select_first:
                self.values.append(self.select_first)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            text = (
                self.textarea_text[1:]
                if self.textarea_text.startswith("\n")
                else self.textarea_text
            )
            self.values.append((self.textarea, text))
            self.textarea = None
        elif tag == "form":
            self.depth -= 1


def form_values(html: str, form_id: str) -> list[tuple[str, str]]:
    """The (name, value) pairs the form would post, in page order."""
    reader = _FormReader(form_id)
    reader.feed(html)
    return reader.values


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):  # noqa: ANN001
        self.elements.append((tag, attrs))

    def handle_data(self, data):  # noqa: ANN001
        self.texts.append(data)


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of the page with its attributes, as a browser's parser sees them."""
    parser = _Elements()
    parser.feed(html)
    return parser.elements


def text_of(html: str) -> str:
    """The page's text as a reader sees it (entities decoded, tags gone)."""
    parser = _Elements()
    parser.feed(html)
    return "".join(parser.texts)
