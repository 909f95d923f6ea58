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
    wanted = text.casefold()
    return _english_names().get(wanted) or _own_names().get(wanted)


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


# Languages whose own name (français, 中文, العربية) is looked up too; English names of
# every language come from one table, own names need one locale file each.
_NATIVE = (
    "am ar bn de el en es fa fr ha he hi id it ja km ko ln mg ms my ne nl pl ps pt ro ru "
    "rw so sv sw th ti tl tr uk ur vi wo yo zh zh_Hans zh_Hant"
).split()


@functools.cache
def _english_names() -> dict[str, str]:
    """Every language's English name -> portal code (one table, read once)."""
    names: dict[str, str] = {}
    for identifier, name in Locale("en").languages.items():
        code = _normalise(identifier)
        if code and ("_" not in identifier or identifier.startswith("zh_")):
            names.setdefault(name.casefold(), code)
    names.update({"chinese": "zh_Hans"})
    return names


@functools.cache
def _own_names() -> dict[str, str]:
    """Common languages' names in the language itself (français, 中文) -> portal code;
    each needs its own locale file, so this is read only when an English name missed."""
    names: dict[str, str] = {"中文": "zh_Hans", "简体中文": "zh_Hans", "繁體中文": "zh_Hant"}
    for identifier in _NATIVE:
        try:
            locale = Locale.parse(identifier)
        except (ValueError, UnknownLocaleError):
            continue
        name = locale.get_display_name(locale)
        if name:
            names.setdefault(name.casefold(), _normalise(identifier))
    return names


def column_language(code: str) -> str:
    """The XLSForm way to name a portal language: ``English (en)``,
    ``Chinese (Simplified) (zh-Hans)``."""
    try:
        name = Locale.parse(code).english_name
    except (ValueError, UnknownLocaleError):
        name = code
    return f"{name} ({code.replace('_', '-')})"
