"""Sending email over SMTP with ``aiosmtplib``: TLS as configured, credentials if given."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from bot.config import Settings


class MailError(Exception):
    """The relay refused the message or could not be reached; ``str()`` says which."""


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        settings = self.settings
        password = settings.smtp_password.get_secret_value()
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                use_tls=settings.smtp_tls == "tls",
                start_tls=True if settings.smtp_tls == "starttls" else False,
                username=settings.smtp_username or None,
                password=password or None,
                timeout=settings.smtp_timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailError(f"{settings.smtp_host}:{settings.smtp_port}: {error}") from error
