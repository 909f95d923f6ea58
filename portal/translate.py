"""Message catalogues: ``portal translate extract|update|compile`` around pybabel, and the
compilation the portal does by itself when a catalogue is newer than its compiled file
(so a fresh install needs no extra step)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

KEYWORDS = ("-k", "_l", "-k", "N_", "-k", "lazy_gettext")


def _root() -> Path:
    from portal import PROJECT_ROOT

    return PROJECT_ROOT


def catalogue_files() -> list[Path]:
    return sorted((_root() / "translations").glob("*/LC_MESSAGES/messages.po"))


def compile_catalogues(force: bool = False) -> list[str]:
    """Compile each catalogue whose .mo is missing or older than its .po; returns the
    languages compiled. Fuzzy entries are left out, as pybabel does."""
    compiled = []
    for po_path in catalogue_files():
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as handle:
            catalogue = read_po(handle)
        temporary = mo_path.with_suffix(".mo.tmp")
        with temporary.open("wb") as handle:
            write_mo(handle, catalogue, use_fuzzy=False)
        temporary.replace(mo_path)
        compiled.append(po_path.parent.parent.name)
    return compiled


PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?[sdifr%]")


def _placeholders(text: str) -> set[str]:
    return {
        match.group(0) if match.group(1) is None else f"%({match.group(1)})"
        for match in PLACEHOLDER.finditer(text)
        if match.group(0) != "%%"
    }


def catalogue_problems(po_path: Path) -> list[str]:
    """What keeps a catalogue from being complete: untranslated or fuzzy messages, plural
    entries without every form, translations whose %(placeholders)s differ."""
    with po_path.open("rb") as handle:
        catalogue = read_po(handle)
    found = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        label = ids[0][:60]
        if message.fuzzy:
            found.append(f"fuzzy: {label}")
        if isinstance(message.id, tuple) and len(strings) != catalogue.num_plurals:
            found.append(f"needs {catalogue.num_plurals} plural forms: {label}")
        for index, text in enumerate(strings):
            if not text:
                found.append(f"untranslated: {label}")
                break
            source = _placeholders(ids[min(index, len(ids) - 1)])
            allowed = source | (_placeholders(ids[-1]) if len(ids) > 1 else set())
            given = _placeholders(text)
            if not given <= allowed or (len(ids) == 1 and given != source):
                found.append(f"placeholders differ: {label} -> {text[:60]}")
                break
    return found


def _pybabel(*args: str) -> None:
    command = [sys.executable, "-m", "babel.messages.frontend", *args]
    result = subprocess.run(command, cwd=_root(), check=False)
    if result.returncode:
        raise click.ClickException(f"pybabel {args[0]} failed")


@click.group(help="Extract, update and compile the message catalogues (pybabel).")
def translate() -> None:
    pass


@translate.command("extract")
def extract_command() -> None:
    """Write translations/messages.pot from the code and the templates."""
    _pybabel("extract", "-F", "babel.cfg", *KEYWORDS, "--no-location", "--sort-output",
             "--project=portal", "-o", "translations/messages.pot", ".")  # fmt: skip


@translate.command("update")
def update_command() -> None:
    """Merge messages.pot into every catalogue (new messages appear untranslated)."""
    _pybabel("update", "-i", "translations/messages.pot", "-d", "translations",
             "--no-fuzzy-matching", "--ignore-obsolete")  # fmt: skip


@translate.command("init")
@click.argument("language")
def init_command(language: str) -> None:
    """Start a catalogue for a new LANGUAGE (such as pt_BR)."""
    _pybabel("init", "-i", "translations/messages.pot", "-d", "translations", "-l", language)


@translate.command("check")
def check_command() -> None:
    """List what each catalogue still lacks; fails when anything does."""
    failures = 0
    for po_path in catalogue_files():
        listed = catalogue_problems(po_path)
        failures += len(listed)
        click.echo(f"{po_path.parent.parent.name}: {len(listed)} problem(s)")
        for line in listed[:40]:
            click.echo(f"  {line}")
    if failures:
        raise SystemExit(1)


@translate.command("compile")
def compile_command() -> None:
    """Compile every catalogue (the portal also does this by itself when one changed)."""
    done = compile_catalogues(force=True)
    click.echo(f"Compiled: {', '.join(done) or 'nothing to compile'}.")
