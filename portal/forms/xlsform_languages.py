"""Language columns of an XLSForm (``label::English (en)``, ``label::fr``,
``hint::Chinese (zh)``) and the portal's language codes (``en``, ``fr``, ``zh_Hans``).

XLSForm names a language by its name with an IETF tag in parentheses; older sheets (and
KoboToolbox's own exports) give only a name (``English``, ``Français``) or only a code.
:func:`language_code` reads all three; :func:`column_language` writes the XLSForm form
back. Pure Python: Babel's locale data knows the names.
"""

from __future__ import annotations

import functools
import re

from babel import Locale, UnknownLocaleError
from babel.localedata import locale_identifiers

from portal.forms.definition import LANGUAGE

_IN_PARENTHESES = re.compile(r"\(\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\s*\)\s*$")
_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
_TRADITIONAL = {"TW", "HK", "MO", "HANT"}


def language_code(text: str) -> str | None:
    """The portal's code for an XLSForm language (``English (en)`` -> ``en``,
    ``Chinese (zh)`` -> ``zh_Hans``, ``Français`` -> ``fr``), or None when unknown."""
    text = (text or "").strip()
    found = _IN_PARENTHESES.search(text)
    if found:
        return _normalise(found.group(1))
    if _TAG.fullmatch(text):
        code = _normalise(text)
        if code:
            return code
    return _by_name().get(text.casefold())


def _normalise(tag: str) -> str | None:
    parts = re.split(r"[-_]", tag)
    language = parts[0].lower()
    if len(language) == 3:  # eng, fra: Babel knows the two-letter code
        try:
            language = Locale.parse(language).language
        except (ValueError, UnknownLocaleError):
            pass
    rest = [part for part in parts[1:] if part]
    if language == "zh":
        traditional = any(part.upper() in _TRADITIONAL for part in rest)
        return "zh_Hant" if traditional else "zh_Hans"
    code = language
    if rest:
        part = rest[0]
        code += "_" + (part.title() if len(part) == 4 else part.upper())
    return code if LANGUAGE.fullmatch(code) else None


@functools.cache
def _by_name() -> dict[str, str]:
    """Language names in English and in the language itself -> portal code."""
    names: dict[str, str] = {}
    for identifier in sorted(locale_identifiers()):
        if "_" in identifier and not identifier.startswith("zh_"):
            continue
        try:
            locale = Locale.parse(identifier)
        except (ValueError, UnknownLocaleError):
            continue
        code = _normalise(identifier)
        if code is None:
            continue
        for name in (locale.english_name, locale.get_display_name(locale)):
            if name:
                names.setdefault(name.casefold(), code)
        if locale.language == "zh" and not locale.script:
            names.setdefault(locale.english_name.casefold(), "zh_Hans")
    names.update({"chinese": "zh_Hans", "中文": "zh_Hans", "简体中文": "zh_Hans"})
    names.update({"繁體中文": "zh_Hant"})
    return names


def column_language(code: str) -> str:
    """The XLSForm way to name a portal language: ``English (en)``,
    ``Chinese (Simplified) (zh-Hans)``."""
    try:
        name = Locale.parse(code).english_name
    except (ValueError, UnknownLocaleError):
        name = code
    return f"{name} ({code.replace('_', '-')})"
