"""Uploaded files: their type found from their content (never from their name), their size
checked, and their bytes stored under a random name outside the web root."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import filetype

# What each `accept` category admits, by the type found in the content.
CATEGORIES: dict[str, frozenset[str]] = {
    "image": frozenset({
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/avif",
    }),
    "pdf": frozenset({"application/pdf"}),
    "document": frozenset({
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/msword",
        "application/rtf",
    }),
    "spreadsheet": frozenset({
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.ms-excel",
        "text/csv",
    }),
    "text": frozenset({"text/plain", "text/csv"}),
    "archive": frozenset({"application/zip"}),
}  # fmt: skip
KNOWN_TYPES = frozenset().union(*CATEGORIES.values())
DEFAULT_ACCEPT = ("image", "pdf", "document", "spreadsheet", "text")

OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# What the browser's file picker offers first; only a hint, the content decides.
ACCEPT_HINTS = {
    "image": "image/*",
    "pdf": "application/pdf,.pdf",
    "document": ".doc,.docx,.odt,.rtf",
    "spreadsheet": ".xls,.xlsx,.ods,.csv",
    "text": ".txt,.csv,text/plain",
    "archive": ".zip",
}
SAFE_INLINE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"})


@dataclass(frozen=True)
class Inspected:
    content_type: str | None  # None when the content is of no type we accept at all
    size: int
    sha256: str


def detect_type(data: bytes) -> str | None:
    """The type the bytes really are, or None when it is none the portal ever accepts
    (programs, web pages and SVG, which can carry script, among them)."""
    kind = filetype.guess(data)
    if kind is not None:
        mime = _zip_type(data) if kind.mime == "application/zip" else kind.mime
    else:
        mime = "text/plain" if _looks_like_text(data) else None
    return mime if mime in KNOWN_TYPES else None


def _zip_type(data: bytes) -> str:
    """Office files are zip archives; tell them apart by what they hold."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                if declared.startswith("application/vnd.oasis.opendocument."):
                    return declared
            for prefix, mime in OOXML.items():
                if any(name.startswith(prefix) for name in names):
                    return mime
    except (zipfile.BadZipFile, OSError, KeyError):
        pass
    return "application/zip"


def _looks_like_text(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 4:  # a cut multi-byte character at the end is fine
            return False
        text = sample[: error.start].decode("utf-8")
    lowered = text.lstrip().lower()
    return not lowered.startswith(("<!doctype html", "<html", "<svg", "<?xml", "<script"))


def allowed_types(accept: tuple[str, ...] | list[str] | None) -> frozenset[str]:
    kinds = accept or DEFAULT_ACCEPT
    return frozenset().union(*(CATEGORIES.get(kind, frozenset()) for kind in kinds))


def inspect(data: bytes) -> Inspected:
    return Inspected(detect_type(data), len(data), hashlib.sha256(data).hexdigest())


def clean_filename(name: str | None) -> str:
    """A name safe to show and to offer for download: no folders, no control characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return (name or "file")[:200]


def store(folder: str | Path, data: bytes) -> str:
    """Write the bytes under a new random key and return the key."""
    key = secrets.token_hex(16)
    path = Path(folder) / key[:2]
    path.mkdir(parents=True, exist_ok=True)
    (path / key).write_bytes(data)
    return key


def path_of(folder: str | Path, key: str) -> Path:
    return Path(folder) / key[:2] / key


def accept_hint(accept: tuple[str, ...] | list[str] | None) -> str:
    return ",".join(
        ACCEPT_HINTS[kind] for kind in (accept or DEFAULT_ACCEPT) if kind in ACCEPT_HINTS
    )
