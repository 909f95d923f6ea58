"""A notification channel that posts each portal notification to a chat room, through a
Mattermost- or Slack-compatible incoming webhook (a JSON body ``{"text": ...}``).

The webhook URL is a secret (whoever has it can post to the room), so it is read from the
environment variable ``PORTAL_CHAT_WEBHOOK_URL``, never from a file in the repository.
Without it the channel is not ready and the portal simply does not use it.
"""

from __future__ import annotations

import os

import httpx

from portal import hookimpl
from portal.notifications.service import DeliveryError

ENV_VAR = "PORTAL_CHAT_WEBHOOK_URL"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class ChatChannel:
    """Posts ``"<person>: <subject> <link>"`` to the room of the webhook."""

    name = "chat"

    def ready(self) -> bool:
        return bool(os.environ.get(ENV_VAR))

    def text_for(self, message) -> str:  # noqa: ANN001
        return f"**{message.recipient.name}**: {message.subject}\n{message.url}"

    def send(self, message) -> None:  # noqa: ANN001
        url = os.environ.get(ENV_VAR)
        if not url:
            raise DeliveryError(f"{ENV_VAR} is not set")
        try:
            answer = httpx.post(
                url, json={"text": self.text_for(message)}, timeout=TIMEOUT, follow_redirects=False
            )
        except httpx.HTTPError as error:
            raise DeliveryError(f"could not reach the chat server: {error}") from error
        if answer.status_code >= 400:
            raise DeliveryError(
                f"the chat server answered {answer.status_code}: {answer.text.strip()[:300]}"
            )


@hookimpl
def register_notification_channels(register) -> None:  # noqa: ANN001
    register(ChatChannel())
