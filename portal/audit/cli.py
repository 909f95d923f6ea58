"""``portal audit ...``: check the trace from the command line (or a nightly cron job)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.audit.trace import verify


@click.group(cls=AppGroup, help="Check the trace of every step (留痕).")
def audit() -> None:
    pass


@audit.command("verify")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Entries read at a time.",
)
def verify_command(batch_size: int) -> None:
    """Walk the whole trace and name the first entry that was altered, removed or added.

    Exits 0 when the trace is intact and 1 when it is broken.
    """
    result = verify(batch_size=batch_size)
    if result.ok:
        click.echo(f"Trace intact: {result.checked} entries checked.")
        return
    click.echo(f"Trace broken at entry {result.first_bad_seq}: {result.reason}")
    raise click.exceptions.Exit(1)
