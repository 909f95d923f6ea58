"""Writing a portal definition as an XLSForm ``.xlsx``: the export beside
:func:`portal.forms.xlsform.read_xlsform`, so that reading the export gives the same
definition. Pure Python (openpyxl), no Flask."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell

from portal.forms.xlsform import _as_texts, _portal_pattern
from portal.forms.xlsform_expressions import (
    ExpressionError,
    checks_to_constraint,
    condition_to_relevant,
)
from portal.forms.xlsform_languages import column_language

_EXPORT_TYPES = {
    "text": "text",
    "textarea": "text",
    "email": "text",
    "phone": "text",
    "url": "text",
    "number": "decimal",
    "money": "decimal",
    "percent": "decimal",
    "date": "date",
    "datetime": "dateTime",
    "checkbox": "acknowledge",
    "file": "file",
}
_PLAIN_TYPES = {
    "text",
    "textarea",
    "number",
    "date",
    "datetime",
    "checkbox",
    "file",
    "select",
    "radio",
    "multiselect",
    "section",
}


def write_xlsform(definition: Mapping[str, Any]) -> bytes:
    """A portal definition as an XLSForm ``.xlsx`` (survey, choices and settings sheets).

    Whatever XLSForm has no column for (an e-mail field, currencies, file kinds, the
    form's number prefix) goes in a ``portal`` column as JSON, which :func:`read_xlsform`
    reads back. Works on any draft, even one that does not load yet.
    """
    default = str(definition.get("default_language") or "en")
    fields = [f for f in definition.get("fields") or [] if isinstance(f, Mapping)]
    languages = _languages(definition, fields, default)
    kinds = {str(f.get("name")): str(f.get("type")) for f in fields}
    text_columns = [("label", code) for code in languages] + [("hint", code) for code in languages]
    survey_header = ["type", "name"] + [
        f"{base}::{column_language(code)}" for base, code in text_columns
    ]
    survey_header += ["required", "relevant", "constraint", "default", "appearance", "portal"]
    survey_rows: list[list] = []
    choice_rows: list[list] = []
    open_group = False
    for index, f in enumerate(fields):
        kind = str(f.get("type"))
        name = str(f.get("name") or f"field_{index}")
        extra: dict[str, Any] = {}
        appearance = ""
        if kind == "section":
            if open_group:
                survey_rows.append(["end_group", name])
                open_group = False
            has_fields = index + 1 < len(fields) and fields[index + 1].get("type") != "section"
            xls_type = "begin_group" if has_fields else "note"
            open_group = has_fields
        elif kind in ("select", "radio", "multiselect"):
            xls_type = f"{'select_multiple' if kind == 'multiselect' else 'select_one'} {name}"
            appearance = "minimal" if kind == "select" else ""
            for option in f.get("options") or []:
                value, label = (
                    (option.get("value"), option.get("label"))
                    if isinstance(option, Mapping)
                    else (option, option)
                )
                texts = _as_texts(label, default)
                choice_rows.append([name, str(value)] + [texts.get(code, "") for code in languages])
        else:
            xls_type = _EXPORT_TYPES.get(kind, "text")
            if kind == "textarea":
                appearance = "multiline"
            if kind == "file" and list(f.get("accept") or []) == ["image"]:
                xls_type = "image"
            elif kind == "file" and f.get("accept"):
                extra["accept"] = f["accept"]
            if kind not in _PLAIN_TYPES:
                extra["type"] = kind
        for key in (
            "placeholder",
            "currencies",
            "default_currency",
            "max_files",
            "max_size_mb",
            "multiple",
        ):
            if f.get(key) not in (None, False):
                extra[key] = f[key]
        default_cell, default_kept = _default_cells(f.get("default"))
        if default_kept is not None:
            extra["default"] = default_kept
        relevant = ""
        if f.get("visible_if"):
            try:
                relevant = condition_to_relevant(str(f["visible_if"]), kinds)
            except (ExpressionError, ValueError):
                extra["visible_if"] = f["visible_if"]
        label = _as_texts(f.get("label"), default)
        hint = _as_texts(f.get("help"), default)
        texts = [(label if base == "label" else hint).get(code, "") for base, code in text_columns]
        survey_rows.append(
            [
                xls_type,
                name,
                *texts,
                "yes" if f.get("required") else "",
                relevant,
                checks_to_constraint(_anchored(f)),
                default_cell,
                appearance,
                json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else "",
            ]
        )
    if open_group:
        survey_rows.append(["end_group", ""])
    settings_extra: dict[str, Any] = {}
    title = _as_texts(definition.get("title"), default)
    if set(title) - {default}:
        settings_extra["title"] = title
    for key in ("description", "number_prefix"):
        if definition.get(key):
            settings_extra[key] = definition[key]
    settings_header = ["form_title", "form_id", "default_language", "portal"]
    settings_row = [
        title.get(default) or next(iter(title.values()), ""),
        str(definition.get("name") or ""),
        column_language(default),
        json.dumps(settings_extra, ensure_ascii=False, sort_keys=True) if settings_extra else "",
    ]
    choices_header = ["list_name", "name"] + [
        f"label::{column_language(code)}" for code in languages
    ]
    return _workbook_bytes(
        [
            ("survey", survey_header, survey_rows),
            ("choices", choices_header, choice_rows),
            ("settings", settings_header, [settings_row]),
        ]
    )


def _languages(definition: Mapping, fields: list, default: str) -> list[str]:
    """Every language of the form's texts, the default first."""
    seen = {default: None}
    texts = [definition.get("title")]
    for f in fields:
        texts += [f.get("label"), f.get("help")]
        texts += [o.get("label") for o in f.get("options") or [] if isinstance(o, Mapping)]
    for text in texts:
        if isinstance(text, Mapping):
            seen.update(dict.fromkeys(str(code) for code in text))
    return list(seen)


def _default_cells(value: Any) -> tuple[str, Any]:
    """The default answer as the XLSForm ``default`` column writes it, or, when that column
    cannot carry it back unchanged (an unticked box, text that reads as a calculation,
    a choice with a space), None there and the value for the ``portal`` column."""
    if value is None:
        return "", None
    text = _default_text(value)
    items = value if isinstance(value, list | tuple) else []
    if (
        value is False
        or "${" in text
        or re.search(r"[a-z-]+\(", text)
        or text.strip() != text
        or any(not str(item) or str(item).split() != [str(item)] for item in items)
    ):
        return "", value
    return text, None


def _default_text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "OK"
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return str(value)


def _workbook_bytes(sheets: list[tuple[str, list, list]]) -> bytes:
    workbook = openpyxl.Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append([_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _anchored(f: Mapping[str, Any]) -> Mapping[str, Any]:
    """The field with its pattern anchored as ``^...$``: regex() in XLSForm finds a match
    anywhere, the portal's pattern matches the whole answer."""
    pattern = f.get("pattern")
    if not pattern or _portal_pattern(str(pattern)) == pattern:
        return f
    return {**f, "pattern": f"^(?:{pattern})$"}


def _cell(sheet, value: Any) -> Any:  # noqa: ANN001
    """Every text stays text: an admin's label starting with = must not become a formula."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value
