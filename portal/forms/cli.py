"""``portal forms ...``: check, publish and export form definitions as files."""

from __future__ import annotations

import json
import sys

import click
import yaml
from flask.cli import with_appcontext
from sqlalchemy import select

from portal.extensions import db
from portal.forms.definition import DefinitionError, parse_definition_text
from portal.forms.models import Form, FormVersion
from portal.forms.service import check_definition, publish


@click.group(help="Check, publish and export form definitions (YAML or JSON).")
def forms() -> None:
    pass


def _load(path: str):  # noqa: ANN202
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    data = parse_definition_text(text, path)
    return data, check_definition(data).form


def _report(path: str, error: DefinitionError) -> None:
    click.echo(f"{path}: {len(error.problems)} problem(s), nothing was changed:", err=True)
    for problem in error.problems:
        click.echo(f"  {problem}", err=True)


@forms.command("validate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def validate_command(path: str) -> None:
    """Check a definition file and list every problem in it."""
    try:
        _, form_def = _load(path)
    except DefinitionError as error:
        _report(path, error)
        sys.exit(1)
    click.echo(f"{path}: the form {form_def.name!r} is valid ({len(form_def.fields)} fields).")
    from portal.i18n import available_locales

    for language, paths in form_def.missing_translations(tuple(available_locales())).items():
        shown = ", ".join(paths[:8]) + (f" and {len(paths) - 8} more" if len(paths) > 8 else "")
        click.echo(f"  {language}: {len(paths)} text(s) not translated yet: {shown}")


@forms.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_command(path: str) -> None:
    """Publish a definition file as the newest version of its form."""
    try:
        data, _ = _load(path)
        version, created = publish(data)
    except DefinitionError as error:
        db.session.rollback()
        _report(path, error)
        sys.exit(1)
    db.session.commit()
    if created:
        click.echo(f"Published {version.form.name!r} version {version.number}.")
    else:
        click.echo(f"{version.form.name!r} is unchanged (version {version.number}).")


@forms.command("export")
@click.argument("name")
@click.option("--version", "number", type=int, help="A published version (default: the newest).")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
@with_appcontext
def export_command(name: str, number: int | None, fmt: str) -> None:
    """Print a published definition, ready for `portal forms import`."""
    form = db.session.scalar(select(Form).where(Form.name == name))
    if form is None or not form.versions:
        raise click.ClickException(f"no published form is called {name!r}")
    version: FormVersion | None = form.published
    if number is not None:
        version = next((v for v in form.versions if v.number == number), None)
        if version is None:
            raise click.ClickException(f"{name!r} has no version {number}")
    if fmt == "json":
        click.echo(json.dumps(version.definition, ensure_ascii=False, indent=2))
    else:
        click.echo(
            yaml.safe_dump(version.definition, allow_unicode=True, sort_keys=False), nl=False
        )


@forms.command("import-xlsform")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_xlsform_command(path: str) -> None:
    """Make a designer draft from an XLSForm spreadsheet (.xlsx) and list what was not mapped."""
    from pathlib import Path

    from portal.designer.drafts import new_draft
    from portal.forms.service import field_rules
    from portal.forms.xlsform import XLSFormError, read_xlsform

    name = Path(path).name
    try:
        definition, unmapped = read_xlsform(Path(path).read_bytes(), name, field_rules())
    except XLSFormError as error:
        raise click.ClickException(f"{path}: {error}") from None
    draft = new_draft(definition, None, f"xlsform:{name}")
    db.session.commit()
    questions = sum(1 for f in definition["fields"] if f.get("type") != "section")
    click.echo(f"Made the draft {draft.form_name!r} (id {draft.id}) with {questions} question(s).")
    if not unmapped:
        click.echo("Everything in the spreadsheet was taken over.")
        return
    click.echo(f"{len(unmapped)} thing(s) not taken over as they were:")
    for item in unmapped:
        click.echo(f"  {item}")
