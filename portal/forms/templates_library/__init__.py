"""The template gallery's content: ready request forms, each with its approval chain.

Every template is a definition file in this folder, in the same format ``portal forms
import`` reads (docs/forms.md, docs/approvals.md), written in every shipped language. The
gallery card of each one (its category and a one-line summary per language) lives in
``index.yaml``, because a definition file accepts no keys beyond the form's and the
chain's own.

An admin starts from a template: the designer shows :func:`list_templates` as cards and
copies :func:`load_template` into a new form. This module only reads files: no Flask,
no database, so a CLI, a worker or a test can use it as well.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from portal.forms.definition import DefinitionError, localize, parse_definition_text

INDEX_FILE = "index.yaml"
LANGUAGES = ("en", "zh_Hans", "de", "fr", "es", "ja", "ar")
"""The languages every template and card is written in (the portal's shipped ones)."""


class TemplateLibraryError(ValueError):
    """The index or a template file is not what the gallery needs; says which and where."""


@dataclass(frozen=True)
class TemplateCard:
    """What the gallery shows for one template, before anyone opens it."""

    name: str
    """The form name in the definition (``feature-request``): what load_template takes."""
    file: str
    """The definition's file name in this folder (``feature-request.yaml``)."""
    category: str
    """A key of the index's ``categories`` (``changes``, ``finance``, ...)."""
    category_label: Mapping[str, str]
    title: Mapping[str, str]
    """The form's title per language, as written in the definition."""
    summary: Mapping[str, str]
    """One sentence per language saying what the template is for."""
    default_language: str = "en"

    @property
    def path(self) -> str:
        """Where the definition file is, for reading or for ``portal forms import``."""
        return str(files(__package__).joinpath(self.file))

    def title_in(self, locale: str) -> str:
        """The title for a reader of ``locale``, with the form's usual fallbacks."""
        return localize(self.title, locale, self.default_language)

    def summary_in(self, locale: str) -> str:
        return localize(self.summary, locale, self.default_language)

    def category_in(self, locale: str) -> str:
        return localize(self.category_label, locale, self.default_language)


def list_templates() -> list[TemplateCard]:
    """Every template's card, in the gallery's order (the order of ``index.yaml``)."""
    return list(_cards())


def load_template(name: str) -> dict[str, Any]:
    """The parsed definition (form and ``chain:``) of the template called ``name``.

    A fresh dict on every call, so the caller may change it (rename the form, drop a
    field) before checking and publishing it. Raises ``KeyError`` for an unknown name.
    """
    for card in _cards():
        if card.name == name:
            return _read_definition(card.file)
    known = ", ".join(card.name for card in _cards())
    raise KeyError(f"there is no template called {name!r}; the templates are {known}")


def template_text(name: str) -> str:
    """The template file exactly as written, comments included (for showing or exporting)."""
    for card in _cards():
        if card.name == name:
            return _read_text(card.file)
    raise KeyError(f"there is no template called {name!r}")


# --- reading the folder ----------------------------------------------------------------


def _read_text(file: str) -> str:
    return files(__package__).joinpath(file).read_text(encoding="utf-8")


def _read_mapping(file: str) -> dict[str, Any]:
    """A YAML file of this folder as a dict; a key written twice is an error, as in a form."""
    try:
        data = parse_definition_text(_read_text(file), file)
    except DefinitionError as error:
        raise TemplateLibraryError(f"{file}: {'; '.join(map(str, error.problems))}") from None
    if not isinstance(data, dict):
        raise TemplateLibraryError(f"{file}: must be a mapping of keys")
    return data


def _read_definition(file: str) -> dict[str, Any]:
    return _read_mapping(file)


@functools.cache
def _cards() -> tuple[TemplateCard, ...]:
    """The cards, read once: the files ship with the code and do not change while it runs."""
    index = _read_mapping(INDEX_FILE)
    categories = index.get("categories") or {}
    entries = index.get("templates") or []
    if not isinstance(categories, dict) or not isinstance(entries, list):
        raise TemplateLibraryError(f"{INDEX_FILE}: needs a categories mapping and a templates list")
    cards = []
    for position, entry in enumerate(entries):
        where = f"{INDEX_FILE}: templates[{position}]"
        if not isinstance(entry, dict) or not {"file", "category", "summary"} <= set(entry):
            raise TemplateLibraryError(f"{where} needs file, category and summary")
        if entry["category"] not in categories:
            raise TemplateLibraryError(
                f"{where}.category: {entry['category']!r} is not one of {', '.join(categories)}"
            )
        data = _read_definition(entry["file"])
        default_language = data.get("default_language", "en")
        cards.append(
            TemplateCard(
                name=data.get("name", ""),
                file=entry["file"],
                category=entry["category"],
                category_label=_texts(categories[entry["category"]], default_language),
                title=_texts(data.get("title"), default_language),
                summary=_texts(entry["summary"], default_language),
                default_language=default_language,
            )
        )
    return tuple(cards)


def _texts(value: Any, default_language: str) -> Mapping[str, str]:
    """A text in several languages, read-only; plain text is in the default language."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): str(v) for k, v in value.items()})
    return MappingProxyType({default_language: str(value)} if value else {})
