"""The admin home page."""

from __future__ import annotations

from flask import render_template

from portal.accounts.roles import admin_required
from portal.admin import bp


@bp.get("/")
@admin_required
def index():
    """Every admin screen, one link each."""
    return render_template("admin/index.html")
