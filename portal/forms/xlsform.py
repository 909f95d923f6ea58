"""XLSForm spreadsheets (the ODK / KoboToolbox standard) in and out of the portal.

:func:`read_xlsform` turns an ``.xlsx`` file with ``survey``, ``choices`` and ``settings``
sheets into a portal form definition (the dict a YAML file holds) and a list of
:class:`Unmapped` items: every row, column or cell the portal could not take over, with
the sheet, row and column where it is and why. :func:`write_xlsform` writes a definition
back as the same three sheets, so that reading the export gives the same definition.

How XLSForm maps onto the portal (docs/xlsform.md says it for admins):

* question types: text (``multiline``: textarea), integer and decimal (number), range
  (number with min and max), date, dateTime, time (text in HH:MM), select_one (radio;
  ``minimal`` or ``autocomplete``: select), select_multiple, acknowledge (checkbox),
  image and file (file), barcode (text); geopoint, calculate, hidden, rank, metadata and
  the ``from_file`` selects are listed as not mapped;
* ``begin group`` becomes a section (its ``relevant`` the section's ``visible_if``);
  a note becomes the help of the section it opens, or a section heading of its own;
  ``begin repeat`` becomes a section whose questions are asked once;
* ``label``, ``hint`` per language (``label::English (en)``), ``required``,
  ``relevant`` (see :mod:`portal.forms.xlsform_expressions`), ``constraint``
  (``. >= 0``, ``string-length(.) <= 200``, ``regex(., '...')``: min, max, lengths and
  patterns) and ``default``;
* a ``portal`` column, written by the export, carries what XLSForm cannot say (an e-mail
  field, currencies, file kinds), so a portal form survives the trip out and back.

Pure Python: openpyxl reads and writes the files (with defusedxml installed it refuses
XML entity tricks); nothing here imports Flask.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import re._constants as sre
import re._parser as sre_parse
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import openpyxl
from openpyxl.utils.datetime import from_excel

from portal.forms.conditions import ConditionError, compile_condition
from portal.forms.definition import (
    FIELD_NAME,
    MAX_FIELDS,
    MAX_OPTIONS,
    DefinitionError,
    FieldTypeRules,
    load_definition,
)
from portal.forms.patterns import check_pattern
from portal.forms.xlsform_expressions import (
    ExpressionError,
    combine,
    constraint_parts,
    relevant_to_condition,
    render,
)
from portal.forms.xlsform_languages import language_code


def N_(msgid: str) -> str:
    """Mark a message for extraction without translating it (see definition.N_)."""
    return msgid


MAX_UNPACKED_BYTES = 40 * 1024 * 1024
"""The most an .xlsx may hold once unzipped (a zip bomb is refused before it is read)."""
MAX_ROWS = 5000
"""The most rows read from one sheet."""


class XLSFormError(ValueError):
    """A file that cannot be read as an XLSForm at all (translatable message)."""

    def __init__(self, msgid: str, params: dict | None = None, unmapped: list | None = None):
        self.msgid = msgid
        self.params = params or {}
        self.unmapped = unmapped or []  # what was not mapped, when the file could be read
        super().__init__(msgid % self.params)

    def message(self, gettext=lambda s: s) -> str:  # noqa: ANN001
        return gettext(self.msgid) % self.params


@dataclass(frozen=True)
class Unmapped:
    """One thing in the spreadsheet the portal did not take over as it was.

    ``what`` is the spreadsheet's own content (a type, an expression: shown as data);
    ``why`` is a translatable message filled in with ``params``.
    """

    sheet: str
    row: int
    column: str
    what: str
    why: str
    params: dict = field(default_factory=dict)

    def message(self, gettext=lambda s: s) -> str:  # noqa: ANN001
        return gettext(self.why) % self.params

    def __str__(self) -> str:
        return f"{self.sheet} row {self.row}, {self.column}: {self.what}: {self.message()}"


# --- reading the workbook ----------------------------------------------------------------

_COLUMN_ALIASES = {
    "caption": "label",
    "relevance": "relevant",
    "list_name": "list_name",
    "constraining_message": "constraint_message",
    "calculate": "calculation",
    "jr:count": "repeat_count",
    "count": "repeat_count",
    "readonly": "read_only",
}
_NOTHING = {"", "no", "false", "false()", "0"}


def _column(header: Any) -> tuple[str, str | None]:
    """``label::English (en)`` -> ("label", "English (en)"); ``list name`` -> ("list_name",
    None)."""
    text = _text(header)
    base, _, language = text.partition("::")
    base = re.sub(r"\s+", "_", base.strip().lower())
    base = _COLUMN_ALIASES.get(base, base)
    return base, (language.strip() or None)


def _text(value: Any) -> str:
    """A cell as text: numbers without a needless ``.0``, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat(timespec="minutes" if not value.second else "seconds")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value).strip()


class _Row:
    """One row of a sheet: its cells by (column, language), and which of them were used."""

    def __init__(self, sheet: str, number: int, cells: dict):
        self.sheet, self.number, self.cells = sheet, number, cells
        self.used: set = set()

    def get(self, base: str) -> str:
        self.used.add((base, None))
        return _text(self.cells.get((base, None), (None, None))[1])

    def raw(self, base: str) -> Any:
        self.used.add((base, None))
        return self.cells.get((base, None), (None, None))[1]

    def has(self, base: str) -> bool:
        return any(key[0] == base and _text(value[1]) for key, value in self.cells.items())

    def texts(self, base: str, default_language: str) -> dict[str, str]:
        """The column's text per language; the plain column is the default language's."""
        found: dict[str, str] = {}
        plain = ""
        for key, (_header, value) in self.cells.items():
            if key[0] != base:
                continue
            self.used.add(key)
            if key[1] is None:
                plain = _text(value)
            elif _text(value):
                found.setdefault(key[1], _text(value))
        if plain and default_language not in found:
            found = {default_language: plain, **found}
        elif default_language in found:
            found = {default_language: found[default_language], **found}
        return found

    def leftovers(self) -> list[tuple[str, str, str]]:
        """(column base, header, value) of every filled cell nobody used."""
        return [
            (key[0], header, _text(value))
            for key, (header, value) in self.cells.items()
            if key not in self.used and _text(value).lower() not in _NOTHING
        ]

    def use_all(self) -> None:
        self.used.update(self.cells)


@dataclass
class _Sheet:
    name: str
    headers: list[tuple[int, str, str, str | None]]  # (column index, header, base, language)
    rows: list[_Row]
    header_row: int


def _open_workbook(data: bytes, filename: str):
    lower = (filename or "").lower()
    old_excel = data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    if lower.endswith(".xls") or old_excel:
        raise XLSFormError(
            N_(
                "this is an Excel 97-2003 .xls file, which the portal does not read; open it "
                "in Excel or LibreOffice and save it as .xlsx"
            )
        )
    if lower.endswith((".ods", ".fods")):
        raise XLSFormError(
            N_(
                "this is an OpenDocument spreadsheet, which the portal does not read; open it "
                "in LibreOffice and save it as .xlsx"
            )
        )
    not_a_spreadsheet = XLSFormError(
        N_("this file is not an .xlsx spreadsheet; choose an XLSForm saved as .xlsx")
    )
    if not data.startswith(b"PK\x03\x04"):
        raise not_a_spreadsheet
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise not_a_spreadsheet from None
    if "xl/workbook.xml" not in names:
        if "content.xml" in names:
            raise XLSFormError(
                N_(
                    "this is an OpenDocument spreadsheet, which the portal does not read; "
                    "open it in LibreOffice and save it as .xlsx"
                )
            )
        raise not_a_spreadsheet
    if unpacked > MAX_UNPACKED_BYTES:
        raise XLSFormError(
            N_("this spreadsheet unpacks to more than %(size)s MB; an XLSForm is far smaller"),
            {"size": MAX_UNPACKED_BYTES // (1024 * 1024)},
        )
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file  # noqa: BLE001
        raise XLSFormError(
            N_("this spreadsheet cannot be read; open it in Excel or LibreOffice and save it again")
        ) from None


def _read_sheet(workbook, name: str) -> _Sheet | None:
    """The sheet called ``name`` (any case), its header row and its filled rows."""
    found = next((ws for ws in workbook.worksheets if ws.title.strip().lower() == name), None)
    if found is None:
        return None
    headers: list = []
    rows: list[_Row] = []
    header_row = 0
    for number, values in enumerate(found.iter_rows(values_only=True), start=1):
        if not any(_text(value) for value in values):
            continue
        if not headers:
            header_row = number
            for index, header in enumerate(values):
                if _text(header):
                    base, language = _column(header)
                    headers.append((index, _text(header), base, language))
            continue
        if len(rows) >= MAX_ROWS:
            raise XLSFormError(
                N_("the %(sheet)s sheet has more than %(limit)s rows"),
                {"sheet": name, "limit": MAX_ROWS},
            )
        cells = {}
        for index, header, base, language in headers:
            value = values[index] if index < len(values) else None
            cells.setdefault((base, language), (header, value))
        rows.append(_Row(name, number, cells))
    return _Sheet(found.title, headers, rows, header_row)


# --- the result being built --------------------------------------------------------------

_TEXT_TYPES = ("text", "textarea", "email", "phone", "url")
_NUMBER_TYPES = ("number", "money", "percent")
_METADATA = {
    "start",
    "end",
    "today",
    "deviceid",
    "subscriberid",
    "simserial",
    "phonenumber",
    "username",
    "email",
    "audit",
    "imei",
    "start-geopoint",
    "background-audio",
    "background-geopoint",
}
_UNSUPPORTED = {
    "geopoint": N_("the portal has no map or location question"),
    "geotrace": N_("the portal has no map or location question"),
    "geoshape": N_("the portal has no map or location question"),
    "calculate": N_("the portal does not calculate answers"),
    "hidden": N_("the portal has no hidden questions"),
    "rank": N_("the portal has no ranking question"),
    "select_one_from_file": N_("the portal cannot read choices from a separate file"),
    "select_multiple_from_file": N_("the portal cannot read choices from a separate file"),
    "select_one_external": N_("the portal cannot read choices from a separate file"),
    "xml-external": N_("the portal cannot read data from a separate file"),
    "csv-external": N_("the portal cannot read data from a separate file"),
    "osm": N_("the portal has no map or location question"),
    "signature": N_("the portal has no signature question"),
}
_COLUMN_WHY = {
    "constraint_message": N_("the portal shows its own message when an answer does not fit"),
    "required_message": N_("the portal shows its own message when an answer is missing"),
    "choice_filter": N_(
        "the portal cannot filter choices by an earlier answer: every choice is offered"
    ),
    "calculation": N_("the portal does not calculate answers"),
    "read_only": N_("the portal has no read-only questions"),
    "appearance": N_("the portal lays out its questions by itself"),
    "repeat_count": N_("the portal does not repeat questions"),
    "parameters": N_("these parameters have no equivalent in the portal"),
    "image": N_("the portal shows no pictures, sounds or videos beside a question"),
    "big-image": N_("the portal shows no pictures, sounds or videos beside a question"),
    "audio": N_("the portal shows no pictures, sounds or videos beside a question"),
    "video": N_("the portal shows no pictures, sounds or videos beside a question"),
    "guidance_hint": N_("the portal has no guidance hints; only the hint is shown"),
    "trigger": N_("the portal does not recalculate on a trigger"),
}
_GENERIC_WHY = N_("the portal has no equivalent of this column")
_CANONICAL_ORDER = (
    "name",
    "type",
    "label",
    "help",
    "placeholder",
    "required",
    "default",
    "visible_if",
    "options",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "multiple",
)
_KEY_COLUMN = {
    "name": "name",
    "type": "type",
    "label": "label",
    "help": "hint",
    "required": "required",
    "default": "default",
    "visible_if": "relevant",
    "options": "type",
    "min": "constraint",
    "max": "constraint",
    "min_length": "constraint",
    "max_length": "constraint",
    "pattern": "constraint",
}
_PORTAL_FIELD_KEYS = (
    "type",
    "default",
    "placeholder",
    "currencies",
    "default_currency",
    "accept",
    "max_files",
    "max_size_mb",
    "multiple",
    "visible_if",
)


@dataclass(eq=False)
class _Frame:
    """An open ``begin group`` / ``begin repeat``: its portal name and its condition."""

    name: str
    label: dict
    condition: str | None


@dataclass
class _Section:
    index: int  # in fields
    frames: tuple  # the frames whose conditions its visible_if holds
    fresh: bool = True  # no question under it yet: a note may become its help


class _Reader:
    """One reading of one workbook."""

    def __init__(self, filename: str):
        self.filename = filename
        self.unmapped: list[Unmapped] = []
        self.fields: list[dict] = []
        self.rows: list[int] = []  # survey row of each field
        self.kinds: dict[str, str] = {}  # portal name -> portal type
        self.names: dict[str, str] = {}  # XLSForm name -> portal name
        self.taken: set[str] = set()
        self.stack: list[_Frame] = []
        self.section: _Section | None = None
        self.languages: dict[str, str | None] = {}  # column language -> code
        self.default_language = "en"
        self.choices: dict[str, list[tuple[str, dict, int]]] = {}
        self.integer_rows: set[int] = set()  # rows of integer questions (for strict bounds)
        self.title: dict[str, str] = {}

    def note(self, sheet: str, row: int, column: str, what: Any, why: str, **params) -> None:
        self.unmapped.append(Unmapped(sheet, row, column, _text(what), why, params))

    # --- the whole workbook

    def read(self, workbook) -> dict:
        survey = _read_sheet(workbook, "survey")
        if survey is None:
            raise XLSFormError(N_("this spreadsheet has no sheet called survey"))
        if not any(base == "type" for _i, _h, base, _l in survey.headers):
            raise XLSFormError(N_("the survey sheet has no type column"))
        choices = _read_sheet(workbook, "choices")
        settings_sheet = _read_sheet(workbook, "settings")
        for sheet in (survey, choices, settings_sheet):
            if sheet is not None:
                self.collect_languages(sheet)
        settings = settings_sheet.rows[0] if settings_sheet and settings_sheet.rows else None
        self.default_language = self.pick_default_language(settings, settings_sheet)
        for sheet in (survey, choices, settings_sheet):
            if sheet is not None:
                self.apply_languages(sheet)
        definition = self.settings(settings, settings_sheet)
        if choices is not None:
            self.read_choices(choices)
        for row in survey.rows:
            self.survey_row(row)
        for frame in self.stack:
            self.note(
                "survey",
                survey.rows[-1].number,
                "type",
                frame.name,
                N_("this group is never closed with end group"),
            )
        if len(self.fields) > MAX_FIELDS:
            self.note(
                "survey",
                self.rows[MAX_FIELDS],
                "type",
                self.fields[MAX_FIELDS]["name"],
                N_("the portal takes at most %(limit)s questions; the rest were left out"),
                limit=MAX_FIELDS,
            )
            del self.fields[MAX_FIELDS:], self.rows[MAX_FIELDS:]
        definition["fields"] = [_ordered(f) for f in self.fields]
        return definition

    def collect_languages(self, sheet: _Sheet) -> None:
        for _index, header, _base, language in sheet.headers:
            if language is None or language in self.languages:
                continue
            code = language_code(language)
            if code is None:
                self.note(
                    sheet.name,
                    sheet.header_row,
                    header,
                    language,
                    N_("the language %(language)s is not known; write it like English (en)"),
                    language=language,
                )
            self.languages[language] = code

    def apply_languages(self, sheet: _Sheet) -> None:
        """Key every row's cells by the portal's language code; unknown languages drop out."""
        for row in sheet.rows:
            cells = {}
            for (base, language), value in row.cells.items():
                if language is None:
                    cells.setdefault((base, None), value)
                elif self.languages.get(language):
                    cells.setdefault((base, self.languages[language]), value)
            row.cells = cells

    def pick_default_language(self, settings: _Row | None, sheet: _Sheet | None) -> str:
        if settings is not None and settings.get("default_language"):
            wanted = settings.get("default_language")
            code = self.languages.get(wanted) or language_code(wanted)
            if code:
                return code
            self.note(
                sheet.name,
                settings.number,
                "default_language",
                wanted,
                N_("the language %(language)s is not known; write it like English (en)"),
                language=wanted,
            )
        known = [code for code in self.languages.values() if code]
        return known[0] if known else "en"

    def settings(self, settings: _Row | None, sheet: _Sheet | None) -> dict:
        stem = PurePath(self.filename or "xlsform").stem
        title = settings.texts("form_title", self.default_language) if settings else {}
        form_id = settings.get("form_id") if settings else ""
        name = re.sub(r"[^a-z0-9-]+", "-", (form_id or stem).lower()).strip("-")
        if len(name) < 2:
            name = "xlsform"
        definition: dict[str, Any] = {"name": name[:63].strip("-")}
        self.title = title or {self.default_language: stem or name}
        definition["title"] = _text_value(self.title, self.default_language)
        extra = (
            self.portal_column(settings, sheet.name if sheet else "settings") if settings else {}
        )
        if isinstance(extra.get("description"), str | dict):
            definition["description"] = extra["description"]
        if self.default_language != "en":
            definition["default_language"] = self.default_language
        if isinstance(extra.get("number_prefix"), str):
            definition["number_prefix"] = extra["number_prefix"]
        if isinstance(extra.get("title"), dict):
            definition["title"] = extra["title"]
        if settings is not None:
            settings.get("default_language")  # read above: mark it used
            for _base, header, value in settings.leftovers():
                self.note(
                    sheet.name,
                    settings.number,
                    header,
                    value,
                    N_("the portal keeps no such setting"),
                )
        return definition

    def portal_column(self, row: _Row, sheet: str) -> dict:
        """The ``portal`` column the export writes: JSON of what XLSForm cannot say."""
        text = row.get("portal")
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            self.note(
                sheet,
                row.number,
                "portal",
                text,
                N_(
                    "the portal column holds settings written by the portal's export; "
                    "this one cannot be read"
                ),
            )
            return {}
        return value

    # --- choices

    def read_choices(self, sheet: _Sheet) -> None:
        reported: set[str] = set()
        for row in sheet.rows:
            list_name = row.get("list_name")
            value = row.get("name") or row.get("value")
            if not list_name or not value:
                if list_name or value:
                    self.note(
                        sheet.name,
                        row.number,
                        "name" if list_name else "list_name",
                        list_name or value,
                        N_("a choice needs a list_name and a name"),
                    )
                row.use_all()
                continue
            label = row.texts("label", self.default_language)
            options = self.choices.setdefault(list_name, [])
            if any(existing == value for existing, _l, _r in options):
                self.note(
                    sheet.name,
                    row.number,
                    "name",
                    value,
                    N_(
                        "the choice %(value)s is already in the list %(list)s; the portal "
                        "keeps the first"
                    ),
                    value=value,
                    list=list_name,
                )
                continue
            options.append((value, label, row.number))
            for base, header, cell in row.leftovers():
                if header not in reported:  # once per column: a filter column fills every row
                    reported.add(header)
                    why = _COLUMN_WHY.get(base) or N_(
                        "the portal cannot filter choices by this column: every choice is offered"
                    )
                    self.note(sheet.name, row.number, header, cell, why)

    # --- survey rows

    def survey_row(self, row: _Row) -> None:
        type_text = row.get("type")
        if not type_text:
            if row.leftovers():
                self.note(
                    "survey", row.number, "type", "", N_("this row has no type and was left out")
                )
            return
        words = type_text.split()
        base = words[0].lower()
        rest = words[1:]
        if base in ("begin", "end") and rest:  # "begin group", "end repeat"
            base, rest = f"{base}_{rest[0].lower()}", rest[1:]
        elif base == "select" and len(rest) >= 2 and rest[0].lower() in ("one", "multiple"):
            base, rest = f"select_{rest[0].lower()}", rest[1:]
        elif base == "select1":
            base = "select_one"
        if base in ("begin_group", "begin_repeat"):
            self.begin_group(row, repeat=base == "begin_repeat")
        elif base in ("end_group", "end_repeat"):
            row.use_all()
            if self.stack:
                self.stack.pop()
            else:
                self.note(
                    "survey",
                    row.number,
                    "type",
                    type_text,
                    N_("there is no open group to end here"),
                )
        elif base == "note":
            self.note_row(row)
        else:
            self.question(row, base, rest, type_text)
            return
        self.report_leftovers(row)

    def begin_group(self, row: _Row, repeat: bool) -> None:
        name = self.portal_name(row, row.get("name") or f"group_{row.number}")
        label = row.texts("label", self.default_language)
        condition = self.relevant(row) or self.portal_condition(row)
        frame = _Frame(name, label, condition)
        self.stack.append(frame)
        if repeat:
            self.note(
                "survey",
                row.number,
                "type",
                row.get("type"),
                N_("the portal does not repeat questions: these are asked once"),
            )
        if label:
            section = {"name": name, "type": "section", "label": self.text(label)}
            hint = row.texts("hint", self.default_language)
            if hint:
                section["help"] = self.text(hint)
            self.add_section(section, row.number, tuple(self.stack))
        if row.get("appearance") not in ("", "field-list"):
            row.used.discard(("appearance", None))

    def add_section(self, section: dict, row_number: int, frames: tuple) -> None:
        condition = combine([frame.condition for frame in frames if frame.condition])
        if condition:
            section["visible_if"] = condition
        self.kinds[section["name"]] = "section"
        self.fields.append(section)
        self.rows.append(row_number)
        self.section = _Section(len(self.fields) - 1, frames)

    def note_row(self, row: _Row) -> None:
        label = row.texts("label", self.default_language)
        hint = row.texts("hint", self.default_language)
        own = self.relevant(row) or self.portal_condition(row)
        wanted = row.get("name") or f"note_{row.number}"
        if not label:
            row.use_all()
            return
        section = self.section
        if section is not None and section.fresh and own is None:
            if section.frames == tuple(self.stack):  # a note opening its group: the help
                heading = self.fields[section.index]
                texts = dict(_as_texts(heading.get("help"), self.default_language))
                for code in {**label, **hint}:
                    pieces = [texts.get(code), label.get(code), hint.get(code)]
                    texts[code] = "\n\n".join(piece for piece in pieces if piece)
                heading["help"] = self.text(texts)
                return
        name = self.portal_name(row, wanted)
        heading = {"name": name, "type": "section", "label": self.text(label)}
        if hint:
            heading["help"] = self.text(hint)
        frames = tuple(self.stack) + ((_Frame(name, label, own),) if own else ())
        self.add_section(heading, row.number, frames)

    def ensure_scope(self, row: _Row) -> None:
        """A portal section hides everything up to the next one: after a group with a
        condition has ended, a new heading keeps what follows from hiding with it."""
        section = self.section
        if section is None:
            return
        if all(frame.condition is None or frame in self.stack for frame in section.frames):
            return
        labelled = [frame for frame in self.stack if frame.label]
        ended = self.fields[section.index]
        if labelled:
            base, label = labelled[-1].name, labelled[-1].label
        else:
            base, label = "more", self.title
        name = self.unique(f"{base}_continued")
        self.note(
            "survey",
            row.number,
            "type",
            ended["name"],
            N_(
                "the portal's sections last until the next heading: a heading was added "
                "here so that the questions below do not hide with %(group)s"
            ),
            group=ended["name"],
        )
        heading = {"name": name, "type": "section", "label": self.text(label)}
        self.add_section(heading, row.number, tuple(self.stack))

    @property
    def definition_title(self) -> Any:
        return PurePath(self.filename or "xlsform").stem or "xlsform"

    # --- questions

    def question(self, row: _Row, base: str, rest: list[str], type_text: str) -> None:
        if base in _METADATA or base.startswith("uri:"):
            row.use_all()
            self.note(
                "survey",
                row.number,
                "type",
                type_text,
                N_("metadata: the portal records who sent a request and when by itself"),
            )
            return
        if base in _UNSUPPORTED:
            row.use_all()
            self.note("survey", row.number, "type", type_text, _UNSUPPORTED[base])
            return
        made = self.make_field(row, base, rest, type_text)
        if made is None:
            row.use_all()
            return
        self.ensure_scope(row)
        if self.section is not None:
            self.section.fresh = False
        name = self.portal_name(row, row.get("name"))
        made = {"name": name, **made}
        label = row.texts("label", self.default_language)
        if not label:
            label = {self.default_language: row.get("name") or name}
            self.note(
                "survey",
                row.number,
                "label",
                "",
                N_("this question has no label; its name is shown instead"),
            )
        made["label"] = self.text(label)
        hint = row.texts("hint", self.default_language)
        if hint:
            made["help"] = self.text(hint)
        extra = self.portal_column(row, "survey")
        self.required(row, made)
        own = self.relevant(row)
        if own is None:
            own = self.portal_condition(row, extra)
        covered = self.section.frames if self.section else ()
        pending = [f.condition for f in self.stack if f.condition and f not in covered]
        condition = combine([*pending, own] if own else pending)
        if condition:
            made["visible_if"] = condition
        self.portal_extras(row, made, extra)
        constraint = row.get("constraint")
        if constraint:
            self.constraint(row, made, constraint)
        default = row.raw("default")
        if _text(default):
            self.default(row, made, default)
        self.kinds[name] = made["type"]
        self.fields.append(made)
        self.rows.append(row.number)
        self.report_leftovers(row)

    def make_field(self, row: _Row, base: str, rest: list[str], type_text: str) -> dict | None:
        appearance = row.get("appearance").lower().split()
        used_appearance = False
        made: dict[str, Any]
        if base in ("text", "string"):
            used_appearance = "multiline" in appearance
            made = {"type": "textarea" if used_appearance else "text"}
        elif base in ("integer", "int"):
            made = {"type": "number"}
            self.note(
                "survey",
                row.number,
                "type",
                type_text,
                N_("the portal's number question also accepts decimals"),
            )
            self.integer_rows.add(row.number)
        elif base == "decimal":
            made = {"type": "number"}
        elif base == "range":
            made = {"type": "number", **self.range_parameters(row)}
        elif base == "date":
            made = {"type": "date"}
        elif base in ("datetime",):
            made = {"type": "datetime"}
        elif base == "time":
            made = {"type": "text", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
            self.note(
                "survey",
                row.number,
                "type",
                type_text,
                N_("the portal has no time question: this is a text answer written as HH:MM"),
            )
        elif base in ("select_one", "select_multiple"):
            if not rest:
                self.note(
                    "survey",
                    row.number,
                    "type",
                    type_text,
                    N_("a select question needs a choice list: select_one LIST"),
                )
                return None
            options = self.options(row, rest, type_text)
            if options is None:
                return None
            if base == "select_multiple":
                made = {"type": "multiselect"}
            else:
                used_appearance = bool({"minimal", "autocomplete"} & set(appearance))
                made = {"type": "select" if used_appearance else "radio"}
            made["options"] = options
        elif base in ("acknowledge", "trigger"):
            made = {"type": "checkbox"}
        elif base in ("image", "photo"):
            made = {"type": "file", "accept": ["image"]}
        elif base == "file":
            made = {"type": "file"}
        elif base in ("audio", "video"):
            made = {"type": "file"}
            self.note(
                "survey",
                row.number,
                "type",
                type_text,
                N_("the portal takes this as a file upload of any kind"),
            )
        elif base == "barcode":
            made = {"type": "text"}
            self.note(
                "survey",
                row.number,
                "type",
                type_text,
                N_("the portal cannot scan: the code is typed in as text"),
            )
        else:
            self.note(
                "survey",
                row.number,
                "type",
                type_text,
                N_("the portal has no question of this type"),
            )
            return None
        if not used_appearance and appearance:
            row.used.discard(("appearance", None))
        return made

    def range_parameters(self, row: _Row) -> dict:
        params = dict(part.split("=", 1) for part in row.get("parameters").split() if "=" in part)
        bounds = {}
        for key, portal_key in (("start", "min"), ("end", "max")):
            number = _number(params.pop(key, None))
            if number is not None:
                bounds[portal_key] = number
        if params.get("step") in ("1", None):
            params.pop("step", None)
        if params:
            row.used.discard(("parameters", None))
        return bounds

    def options(self, row: _Row, rest: list[str], type_text: str) -> list | None:
        list_name = rest[0]
        if list_name.endswith("_from_file"):
            return None
        found = self.choices.get(list_name)
        if not found:
            self.note(
                "survey",
                row.number,
                "type",
                type_text,
                N_("the choices sheet has no list called %(list)s"),
                list=list_name,
            )
            return None
        if len(found) > MAX_OPTIONS:
            self.note(
                "choices",
                found[MAX_OPTIONS][2],
                "name",
                found[MAX_OPTIONS][0],
                N_("the portal takes at most %(limit)s choices; the rest were left out"),
                limit=MAX_OPTIONS,
            )
        options = [self.option(value, label) for value, label, _row in found[:MAX_OPTIONS]]
        if len(rest) > 1 and rest[1].lower() == "or_other":
            if not any(_option_value(o) == "other" for o in options):
                options.append("other")
            self.note(
                "survey",
                row.number,
                "type",
                type_text,
                N_("or_other became a choice called other; the portal asks for no text beside it"),
            )
        return options

    def option(self, value: str, label: dict) -> str | dict:
        if not label or label == {self.default_language: value}:
            return value
        return {"value": value, "label": self.text(label)}

    def required(self, row: _Row, made: dict) -> None:
        value = row.raw("required")
        text = _text(value).lower()
        if value is True or text in ("yes", "true", "true()", "1"):
            made["required"] = True
        elif text not in _NOTHING:
            self.note(
                "survey",
                row.number,
                "required",
                _text(value),
                N_("the portal cannot make a question required only sometimes; it is optional"),
            )

    def relevant(self, row: _Row) -> str | None:
        text = row.get("relevant")
        if not text:
            return None
        try:
            return relevant_to_condition(text, self.kinds, self.names)
        except ExpressionError as error:
            self.unmapped.append(
                Unmapped(
                    "survey",
                    row.number,
                    "relevant",
                    text,
                    N_(
                        "this condition could not be taken over (%(reason)s): the question "
                        "is always shown"
                    ),
                    {"reason": error.msgid % error.params},
                )
            )
            return None

    def portal_condition(self, row: _Row, extra: dict | None = None) -> str | None:
        """A condition the export could not write as ``relevant`` (in the portal column)."""
        extra = self.portal_column(row, "survey") if extra is None else extra
        condition = extra.get("visible_if")
        if condition is None:
            return None
        try:
            return render(compile_condition(condition).tree)
        except ConditionError as error:
            self.note("survey", row.number, "portal", condition, error.msgid, **error.params)
            return None

    def portal_extras(self, row: _Row, made: dict, extra: dict) -> None:
        for key in _PORTAL_FIELD_KEYS:
            if key in extra and key != "visible_if":
                made[key] = extra[key]

    def constraint(self, row: _Row, made: dict, text: str) -> None:
        def refuse(what: str, why: str, **params) -> None:
            self.note("survey", row.number, "constraint", what, why, **params)

        try:
            checks, rest = constraint_parts(text)
        except ExpressionError as error:
            refuse(
                text,
                N_("this check could not be taken over (%(reason)s)"),
                reason=error.msgid % error.params,
            )
            return
        kind = made["type"]
        integer = row.number in self.integer_rows
        for check in checks:
            if check.key == "pattern" and kind in _TEXT_TYPES:
                pattern = _portal_pattern(check.value)
                problem = check_pattern(pattern)
                if problem:
                    refuse(check.value, problem[0], **problem[1])
                else:
                    made["pattern"] = pattern
            elif check.key in ("min_length", "max_length") and kind in _TEXT_TYPES:
                step = (1 if check.key == "min_length" else -1) if check.strict else 0
                made[check.key] = max(0, check.value + step)
            elif check.key in ("min", "max") and kind in _NUMBER_TYPES:
                number = _number(check.value)
                if number is None:
                    refuse(str(check.value), N_("this bound is not a number"))
                    continue
                if check.strict:
                    if integer and isinstance(number, int):
                        number += 1 if check.key == "min" else -1
                    else:
                        refuse(
                            text,
                            N_("the portal's bounds include the number itself (%(bound)s)"),
                            bound=number,
                        )
                made[check.key] = number
            elif check.key in ("min", "max") and kind in ("date", "datetime"):
                value = str(check.value)
                parsed = _iso(value, kind)
                if parsed is None:
                    refuse(value, N_("this bound is not a fixed date"))
                    continue
                if check.strict and kind == "date":
                    days = 1 if check.key == "min" else -1
                    value = (parsed + datetime.timedelta(days=days)).isoformat()
                elif check.strict:
                    refuse(
                        text,
                        N_("the portal's bounds include the moment itself (%(bound)s)"),
                        bound=value,
                    )
                made[check.key] = value
            else:
                refuse(text, N_("this check does not fit a %(type)s question"), type=kind)
        for part in rest:
            refuse(part, N_("this check has no equivalent in the portal"))

    def default(self, row: _Row, made: dict, value: Any) -> None:
        text = _text(value)
        kind = made["type"]
        result: Any = None
        if "${" in text or re.search(r"[a-z-]+\(", text):
            result = None
        elif kind in _TEXT_TYPES:
            result = text
        elif kind in _NUMBER_TYPES:
            result = _number(value)
        elif kind in ("date", "datetime"):
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                value = from_excel(value)  # a date cell without a date format: Excel's serial
                text = value.date().isoformat() if kind == "date" else _text(value)
            result = text if _iso(text, kind) is not None else None
        elif kind in ("select", "radio"):
            result = text if text in _option_values(made) else None
        elif kind == "multiselect":
            chosen = text.split()
            result = chosen if chosen and set(chosen) <= set(_option_values(made)) else None
        elif kind == "checkbox":
            result = {"ok": True, "yes": True, "true": True}.get(text.lower())
        if result is None:
            self.note(
                "survey",
                row.number,
                "default",
                text,
                N_("this default does not fit the question, or is calculated"),
            )
        else:
            made["default"] = result

    def report_leftovers(self, row: _Row) -> None:
        for base, header, value in row.leftovers():
            self.note("survey", row.number, header, value, _COLUMN_WHY.get(base, _GENERIC_WHY))

    # --- names and texts

    def portal_name(self, row: _Row, wanted: str) -> str:
        name = re.sub(r"[^a-z0-9_]+", "_", wanted.strip().lower()).strip("_")
        if not name or not name[0].isalpha() or not name.isascii():
            name = f"q_{name}".rstrip("_")
        name = self.unique(name[:63])
        if wanted and wanted not in self.names:
            self.names[wanted] = name
        if name != wanted:
            self.note(
                "survey",
                row.number,
                "name",
                wanted,
                N_(
                    "renamed %(name)s: portal names are lower-case letters, digits and _, "
                    "and unique"
                ),
                name=name,
            )
        return name

    def unique(self, name: str) -> str:
        if not FIELD_NAME.fullmatch(name):
            name = "q_field"
        candidate, number = name, 2
        while candidate in self.taken:
            suffix = f"_{number}"
            candidate = name[: 63 - len(suffix)] + suffix
            number += 1
        self.taken.add(candidate)
        return candidate

    def text(self, texts: Mapping[str, str]) -> str | dict:
        return _text_value(texts, self.default_language)


def _text_value(texts: Mapping[str, str], default_language: str) -> str | dict:
    """Plain text when only the default language has it, else ``{code: text}``."""
    if set(texts) == {default_language}:
        return texts[default_language]
    return dict(texts)


def _as_texts(value: Any, default_language: str) -> dict:
    if isinstance(value, str):
        return {default_language: value}
    return dict(value or {})


def _ordered(made: dict) -> dict:
    known = {key: made[key] for key in _CANONICAL_ORDER if key in made}
    return {**known, **{key: value for key, value in made.items() if key not in known}}


def _option_value(option: Any) -> str:
    return option["value"] if isinstance(option, dict) else option


def _option_values(made: dict) -> list[str]:
    return [_option_value(option) for option in made.get("options", [])]


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return int(number) if number.is_integer() else number
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return int(number) if number.is_integer() and "." not in str(value) else number


def _iso(text: str, kind: str):
    try:
        if kind == "date":
            return datetime.date.fromisoformat(text) if len(text) == 10 else None
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def _portal_pattern(pattern: str) -> str:
    """XLSForm's ``regex()`` finds the pattern anywhere in the answer (as ODK Collect does);
    the portal's pattern must match the whole answer. An anchored ``^...$`` pattern means
    the same to both; any other is wrapped in ``^.*(?:...).*$``."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return pattern  # check_pattern says what is wrong with it
    if (
        len(parsed) >= 2
        and parsed[0] == (sre.AT, sre.AT_BEGINNING)
        and parsed[-1] == (sre.AT, sre.AT_END)
    ):
        return pattern
    return f"^.*(?:{pattern}).*$"


def read_xlsform(
    data: bytes,
    filename: str = "",
    field_rules: Mapping[str, FieldTypeRules] | None = None,
) -> tuple[dict, list[Unmapped]]:
    """The portal definition in an XLSForm ``.xlsx`` file, and what could not be mapped.

    With ``field_rules`` (the running portal's field types), the definition is also
    checked with the portal's own loader, and whatever it would still refuse is taken out
    and listed, so that the result always loads. Raises :class:`XLSFormError` for a file
    that is not an XLSForm spreadsheet at all.
    """
    workbook = _open_workbook(data, filename)
    try:
        reader = _Reader(filename)
        definition = reader.read(workbook)
    finally:
        workbook.close()
    order = {"settings": 0, "survey": 1, "choices": 2}

    def listed() -> list[Unmapped]:
        return sorted(reader.unmapped, key=lambda i: (order.get(i.sheet.lower(), 3), i.row))

    if field_rules is not None and definition["fields"]:
        _settle(definition, reader, field_rules)
    if not definition["fields"]:
        raise XLSFormError(
            N_("no question in this spreadsheet could be taken over"), unmapped=listed()
        )
    return definition, listed()


_PATH = re.compile(r"fields\[(\d+)\](?:\.([a-z_]+))?(?:\.([A-Za-z_]+))?")


def _settle(definition: dict, reader: _Reader, field_rules: Mapping[str, FieldTypeRules]) -> None:
    """Take out what the portal's loader still refuses, listing each, until it loads."""
    for _attempt in range(12):
        try:
            load_definition(definition, field_rules)
            return
        except DefinitionError as error:
            problems = error.problems
        fields = definition["fields"]
        dropped: set[int] = set()
        for problem in problems:
            found = _PATH.match(problem.path)
            why, params = problem.msgid, problem.params
            if found is None:
                _settle_top(definition, problem.path, reader)
                reader.note("settings", 1, problem.path or "form_id", "", why, **params)
                continue
            index = int(found.group(1))
            key, language = found.group(2), found.group(3)
            if index >= len(fields) or index in dropped:
                continue
            made, row = fields[index], reader.rows[index]
            column = _KEY_COLUMN.get(key or "type", "portal")
            value = made.get(key) if key else made.get("type")
            if key is None or key in ("name", "type", "label", "options"):
                dropped.add(index)
                reader.note(
                    "survey",
                    row,
                    column,
                    _text(value if not isinstance(value, dict | list) else made.get("name")),
                    N_("left out: %(reason)s"),
                    reason=why % params,
                )
            elif language and isinstance(made.get(key), dict):
                made[key].pop(language, None)
                reader.note("survey", row, column, language, why, **params)
            else:
                reader.note(
                    "survey",
                    row,
                    column,
                    _text(value) if not isinstance(value, dict | list) else key,
                    why,
                    **params,
                )
                made.pop(key, None)
        for index in sorted(dropped, reverse=True):
            del fields[index], reader.rows[index]
    load_definition(definition, field_rules)  # still wrong: let the caller see it


def _settle_top(definition: dict, path: str, reader: _Reader) -> None:
    if path == "title":
        definition["title"] = reader.definition_title
    elif path == "name":
        definition["name"] = "xlsform"
    elif path in ("description", "number_prefix", "default_language"):
        definition.pop(path, None)
    elif path == "fields":
        definition["fields"] = definition["fields"][:MAX_FIELDS]


def write_xlsform(definition: Mapping[str, Any]) -> bytes:
    """A portal definition as an XLSForm ``.xlsx``; see :mod:`portal.forms.xlsform_export`."""
    from portal.forms.xlsform_export import write_xlsform as write

    return write(definition)
