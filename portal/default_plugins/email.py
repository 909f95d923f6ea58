"""The built-in e-mail channel: each message as text and HTML, over SMTP from the config.

Settings: MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD, MAIL_USE_TLS (STARTTLS),
MAIL_USE_SSL (SMTP over TLS), MAIL_SENDER. A plug-in may add other channels the same way.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import TYPE_CHECKING

from flask import current_app

from portal import hookimpl
from portal.database import utcnow
from portal.notifications.service import DeliveryError

if TYPE_CHECKING:
    from portal.notifications.service import OutgoingMessage

TIMEOUT_SECONDS = 10


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class EmailChannel:
    name = "email"

    def ready(self) -> bool:
        """E-mail goes out once PORTAL_SMTP_HOST names a server."""
        return bool(current_app.config.get("MAIL_SERVER"))

    def build(self, message: OutgoingMessage, sender: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = formataddr((_one_line(message.recipient.name), message.recipient.email))
        mail["Subject"] = _one_line(message.subject)
        mail["Date"] = format_datetime(utcnow())
        mail["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        # After the parts: making the message multipart moves Content-* headers into a part.
        mail["Content-Language"] = message.recipient.locale.replace("_", "-")
        return mail

    def send(self, message: OutgoingMessage) -> None:
        config = current_app.config
        host, port = config["MAIL_SERVER"], int(config["MAIL_PORT"])
        where = f"{host}:{port}"
        mail = self.build(message, config["MAIL_SENDER"])
        try:
            if config.get("MAIL_USE_SSL"):
                smtp = smtplib.SMTP_SSL(
                    host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
            with smtp:
                if config.get("MAIL_USE_TLS") and not config.get("MAIL_USE_SSL"):
                    smtp.starttls(context=ssl.create_default_context())
                if config.get("MAIL_USERNAME"):
                    smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"the mail server {where} refused the sign-in of MAIL_USERNAME: {error}"
            ) from error
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryError(
                f"the mail server {where} refused the address {message.recipient.email}: "
                f"{error.recipients}"
            ) from error
        except smtplib.SMTPException as error:
            raise DeliveryError(
                f"the mail server {where} answered with an error: {error}"
            ) from error
        except OSError as error:  # refused, unreachable, timed out, TLS failed
            raise DeliveryError(
                f"could not connect to the mail server {where}: {error or type(error).__name__}"
            ) from error


@hookimpl(trylast=True)
def register_notification_channels(register) -> None:  # noqa: ANN001
    register(EmailChannel())
