"""Telling someone: the outbound webhook (HTTP POST of JSON) and e-mail (SMTP).

Each target returns a :class:`~touchpoints.receiver.record.Delivery`-ready
outcome instead of raising: a failed forward is recorded and answered with a
5xx so that Alertmanager retries it.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import aiohttp

from touchpoints.receiver.message import Message
from touchpoints.receiver.record import Delivery
from touchpoints.receiver.settings import ReceiverSettings


class ForwardError(RuntimeError):
    """A target did not take the message."""


async def post_webhook(session: aiohttp.ClientSession, url: str, message: Message) -> None:
    async with session.post(url, json=message.document) as answer:
        if answer.status >= 300:
            raise ForwardError(f"webhook answered {answer.status}")


def send_mail(settings: ReceiverSettings, message: Message) -> None:
    """Blocking: run in a thread."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(settings.recipients)
    mail.set_content(message.text)
    assert settings.smtp_host is not None
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.forward_timeout_seconds
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        smtp.send_message(mail)


def targets(settings: ReceiverSettings) -> list[str]:
    """Who is told, as recorded in ``told``."""
    found = []
    if settings.forward_url:
        found.append(f"webhook {settings.forward_url}")
    if settings.smtp_host:
        found.append(f"smtp {','.join(settings.recipients)}")
    return found


async def forward(
    settings: ReceiverSettings, session: aiohttp.ClientSession, message: Message
) -> Delivery:
    """Send ``message`` to every configured target; ``failed`` if any did not take it."""
    told = targets(settings)
    if not told:
        return Delivery("", "not_configured")
    errors = []
    if settings.forward_url:
        try:
            await post_webhook(session, settings.forward_url, message)
        except (aiohttp.ClientError, TimeoutError, ForwardError) as error:
            errors.append(f"webhook: {error or type(error).__name__}")
    if settings.smtp_host:
        try:
            await asyncio.to_thread(send_mail, settings, message)
        except (smtplib.SMTPException, OSError) as error:
            errors.append(f"smtp: {error or type(error).__name__}")
    return Delivery("; ".join(told), "failed" if errors else "sent", "; ".join(errors))
