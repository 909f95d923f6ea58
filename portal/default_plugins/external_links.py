"""The built-in request panel: the records connectors made for a request in other tools
("Jira: PROJ-12", linking out). Shown to staff only: a client has no account in the team's
Jira or Trello, and the names of internal boards and projects are the team's business."""

from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup

from portal import hookimpl
from portal.integrations.links import links_of


class Panel:
    def __init__(self, title: str, html: Markup) -> None:
        self.title = title
        self.html = html


def _label(connector: str) -> str:
    from flask import current_app

    found = current_app.extensions["portal.registries"].connectors.get(connector)
    return str(getattr(found, "label", "") or connector)


@hookimpl(trylast=True)
def request_panels(change, user):  # noqa: ANN001, ANN201
    if not getattr(user, "is_staff", False):
        return None
    links = links_of(change.id)
    if not links:
        return None
    items = []
    for link in links:
        text = Markup("{}: {}").format(_label(link.connector), link.key)
        if link.url and link.url.startswith(("https://", "http://")):
            text = Markup('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>').format(
                link.url, text
            )
        items.append(Markup("<li>{}</li>").format(text))
    return Panel(
        _("In other tools"),
        Markup('<ul class="external-links">{}</ul>').format(Markup("").join(items)),
    )
