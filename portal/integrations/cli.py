"""``portal outbox``: list deliveries, retry dead ones, deliver due ones now."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from portal.extensions import db
from portal.integrations.models import OutboxDelivery


@click.group("outbox")
def outbox() -> None:
    """The outbox of events for connectors: list, retry, deliver."""


@outbox.command("list")
@click.option("--state", type=click.Choice(["pending", "retrying", "delivered", "dead"]))
@click.option("--connector")
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def list_command(state: str | None, connector: str | None, limit: int) -> None:
    """Show deliveries, newest first, with their last error or result."""
    from portal.integrations.admin_outbox import deliveries_query

    rows = db.session.execute(deliveries_query(state, connector).limit(limit)).all()
    if not rows:
        click.echo("No deliveries.")
    for delivery, event, number in rows:
        line = delivery.last_error if delivery.state != "delivered" else delivery.result
        click.echo(
            f"{delivery.id}\t{number}\t{event.name}\t{delivery.connector}\t{delivery.state}\t"
            f"attempts={delivery.attempts}\t{(line or '').splitlines()[0] if line else ''}"
        )


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Retry every dead delivery.")
@with_appcontext
def retry_command(ids: tuple[int, ...], all_dead: bool) -> None:
    """Send dead (or waiting) deliveries again, now."""
    from portal.integrations.worker import retry

    if all_dead:
        ids = tuple(
            db.session.scalars(select(OutboxDelivery.id).where(OutboxDelivery.state == "dead"))
        )
    done = [i for i in ids if retry(i) is not None]
    db.session.commit()
    skipped = sorted(set(ids) - set(done))
    click.echo(f"{len(done)} delivery(ies) will be sent again.")
    if skipped:
        raise click.ClickException(
            f"not waiting for a retry (delivered or unknown): {', '.join(map(str, skipped))}"
        )


@outbox.command("deliver")
@with_appcontext
def deliver_command() -> None:
    """Deliver what is due now, once (the worker does this every few seconds)."""
    from portal.integrations.worker import deliver_due

    db.session.commit()
    report = deliver_due()
    click.echo(f"delivered {report.delivered}, retrying {report.retrying}, dead {report.dead}")
