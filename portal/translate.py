"""Message catalogues: ``portal translate extract|update|compile`` around pybabel, and the
compilation the portal does by itself when a catalogue is newer than its compiled file
(so a fresh install needs no extra step)."""

from __future__ import annotations

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


@translate.command("compile")
def compile_command() -> None:
    """Compile every catalogue (the portal also does this by itself when one changed)."""
    done = compile_catalogues(force=True)
    click.echo(f"Compiled: {', '.join(done) or 'nothing to compile'}.")
