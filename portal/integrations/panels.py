"""Extra panels on the request page, from the ``request_panels`` hook.

Called only from the request page, after the access check: every plug-in sees only
requests the viewer may see. A panel that fails is logged and left out; the page still
shows. A panel's ``html`` must be ``markupsafe.Markup`` (escaped by the plug-in); plain text
is escaped here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app
from markupsafe import Markup, escape

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShownPanel:
    title: str
    html: Markup
    plugin: str


def panels_for(change: Any, user: Any) -> list[ShownPanel]:
    pm = current_app.extensions["portal.plugins"]
    shown: list[ShownPanel] = []
    for impl in reversed(pm.hook.request_panels.get_hookimpls()):  # call order, tryfirst first
        plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
        try:
            panel = impl.function(change=change, user=user)
        except Exception:  # one broken plug-in never breaks the request page
            log.exception("request_panels of %s failed on %s", plugin, change.number)
            continue
        if panel is None or not getattr(panel, "title", None):
            continue
        html = panel.html if isinstance(panel.html, Markup) else escape(panel.html)
        shown.append(ShownPanel(str(panel.title), html, plugin))
    return shown
