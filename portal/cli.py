"""The ``portal`` command: a Flask command group around ``create_app``.

``portal run`` serves the portal and runs its scheduled jobs in the same process,
``portal worker`` runs the jobs alone, ``portal db upgrade`` builds or updates the schema,
``portal demo`` makes a demo workspace, and ``portal users`` / ``portal forms`` manage
accounts and form definitions.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from portal import create_app


def _create_app():  # noqa: ANN202
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def cli() -> None:
    """The change-request portal."""


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, help="Requests served at once.")
@click.option("--no-jobs", is_flag=True, help="Leave scheduled jobs to `portal worker`.")
@with_appcontext
def run_command(host: str, port: int, threads: int, no_jobs: bool) -> None:
    """Serve the portal (waitress) and run its scheduled jobs in the same process."""
    from waitress import serve

    from portal.scheduler import Scheduler

    app = current_app._get_current_object()
    scheduler = None
    if not no_jobs:
        scheduler = Scheduler(app)
        scheduler.start_in_background()
    click.echo(f"The portal is running at http://{host}:{port} (press Ctrl+C to stop).")
    try:
        serve(app, host=host, port=port, threads=threads, ident="portal")
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    finally:
        if scheduler is not None:
            scheduler.stop()


@cli.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run the scheduled jobs (reminders, escalations, deliveries) until stopped."""
    from portal.scheduler import Scheduler

    app = current_app._get_current_object()
    names = ", ".join(job.name for job in Scheduler(app).jobs) or "none"
    click.echo(f"Worker running jobs: {names} (press Ctrl+C to stop).")
    try:
        Scheduler(app).run_forever()
    except KeyboardInterrupt:
        click.echo("Worker stopped.")


cli.add_command(shell_command)
cli.add_command(routes_command)
