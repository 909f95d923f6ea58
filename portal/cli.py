"""The ``portal`` command: a Flask command group around ``create_app``.

``portal run`` serves the portal, ``portal db upgrade`` builds or updates the schema,
``portal demo`` makes a demo workspace, and ``portal users`` / ``portal forms`` manage
accounts and form definitions.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from portal import create_app


def _create_app():  # noqa: ANN202
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def cli() -> None:
    """The change-request portal."""
