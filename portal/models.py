"""Every model, imported in one place so Alembic and the shell see the whole schema."""

from portal.accounts.models import LoginAttempt, Organisation, Role, User, UserSession
from portal.approvals.models import Calendar, Delegation, Group, RequestRevision, Task
from portal.audit.models import TraceEntry, TraceHead
from portal.designer.models import FormDraft
from portal.forms.models import Form, FormVersion
from portal.integrations.models import (
    ConnectorSetting,
    ExternalLink,
    InboundReceipt,
    OutboxAttempt,
    OutboxDelivery,
    OutboxEvent,
    PluginState,
)
from portal.notifications.models import Notification, NotificationDelivery
from portal.requests.models import Attachment, ChangeRequest, Draft, RequestCounter, RequestStatus

__all__ = [
    "Attachment",
    "Calendar",
    "ChangeRequest",
    "ConnectorSetting",
    "Delegation",
    "Draft",
    "ExternalLink",
    "Form",
    "FormDraft",
    "FormVersion",
    "Group",
    "InboundReceipt",
    "LoginAttempt",
    "Notification",
    "NotificationDelivery",
    "Organisation",
    "OutboxAttempt",
    "OutboxDelivery",
    "OutboxEvent",
    "PluginState",
    "RequestCounter",
    "RequestRevision",
    "RequestStatus",
    "Role",
    "Task",
    "TraceEntry",
    "TraceHead",
    "User",
    "UserSession",
]
