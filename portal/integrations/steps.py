"""A step moved by another tool: the implementation task marked done because its Jira issue
is Done or its Trello card reached the done list.

The action goes through the approval service like a person's, so the engine checks it (the
step must be open) and the trace records it. The actor is the portal person the tool acts
for: the setting's ``act_as`` (an e-mail), else the first person the step is assigned to. The
trace entry's data says ``via`` which tool, the remote key and the remote person, and its
comment reads "Marked done by Jira on behalf of …".
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.approvals import engine, service
from portal.extensions import db
from portal.integrations.links import request_for_key
from portal.integrations.models import ConnectorSetting
from portal.requests.models import ChangeRequest


def complete_linked_step(
    setting: ConnectorSetting,
    connector: str,
    link_kind: str,
    remote_key: str,
    *,
    tool: str,
    remote_actor: str = "",
) -> tuple[str, str]:
    """The step a form's connector setting names (``done_step``, by default ``implementation``)
    marked done on the request the remote record ``remote_key`` belongs to, acting as the
    setting's ``act_as``; ``(outcome, detail)`` for the inbound receipt."""
    request_id = request_for_key(connector, remote_key, link_kind)
    if request_id is None:
        return "ignored", f"{remote_key} belongs to no request"
    return complete_step(
        request_id,
        str(setting.settings.get("done_step") or "implementation"),
        tool=tool,
        remote_key=remote_key,
        remote_actor=remote_actor,
        act_as=str(setting.settings.get("act_as") or ""),
    )


def complete_step(
    request_id: int,
    step: str,
    *,
    tool: str,
    remote_key: str,
    remote_actor: str = "",
    act_as: str = "",
) -> tuple[str, str]:
    """Mark ``step`` of the request done; ``(outcome, detail)`` for the inbound receipt."""
    change = db.session.get(ChangeRequest, request_id)
    state = service.state_of(change) if change else None
    if state is None:
        return "ignored", "the request has no approval chain"
    step_state = state.steps.get(step)
    if step_state is None:
        return "ignored", f"the request's chain has no step {step!r}"
    if step_state.status != "active":
        return "ignored", f"step {step!r} is {step_state.status}, not open"
    actor = _actor(act_as, step_state.assignees)
    if actor is None:
        return "ignored", f"no active portal person to act for on {step!r} (set act_as)"
    by = _(" (changed by %(who)s)", who=remote_actor) if remote_actor else ""
    comment = _("Marked done by %(tool)s on behalf of %(person)s: %(key)s is done%(by)s.",
                tool=tool, person=actor.name, key=remote_key, by=by)  # fmt: skip
    try:
        service.perform(
            request_id,
            actor,
            step=step,
            verb="done",
            revision=change.revision,
            comment=comment,
            data={"via": tool.lower(), "remote_key": remote_key, "remote_actor": remote_actor},
        )
    except engine.ActionRefused as refused:
        db.session.rollback()
        return "ignored", refused.message()
    db.session.commit()
    return "processed", f"{step} done for {remote_key}"


def _actor(act_as: str, assignees: list[int]) -> User | None:
    if act_as:
        return db.session.scalar(
            select(User).where(func.lower(User.email) == act_as.strip().lower(), User.active)
        )
    for user_id in assignees:
        user = db.session.get(User, user_id)
        if user is not None and user.active:
            return user
    return None
