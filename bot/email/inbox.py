"""Where inbound email comes from, behind one small interface.

``SmtpInbox`` is an SMTP receiver (``aiosmtpd``) for the support address, on the app's own
event loop. We chose a receiver over polling an IMAP mailbox because mail arrives the moment
it is sent (no polling interval, no "seen" flags to keep in step across server processes),
and because the receiver can refuse a forged thread or an unreadable message *during* the
SMTP conversation, so the sending server tells its user, and we never send backscatter to a
forged sender. Point the support address's MX (or a forwarding rule of your mail provider) at
it. An IMAP poller would implement the same ``Inbox`` and call the same ``deliver``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, AnyStr, Protocol

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)


class Delivery(Protocol):
    """``EmailChannel``: what an inbox hands each message to."""

    def accepts(self, recipient: str) -> bool: ...

    def deliver(
        self, raw: bytes, *, envelope_from: str | None, recipients: Sequence[str]
    ) -> Awaitable[Any]: ...  # a Verdict: .code, .text, .reply


class Inbox(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class _Handler:
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not self.delivery.accepts(address):
            return "550 5.1.1 No such mailbox here"  # we are no relay
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            verdict = await self.delivery.deliver(
                raw, envelope_from=envelope.mail_from, recipients=list(envelope.rcpt_tos)
            )
        except Exception:
            # Nothing was acknowledged: the sending server keeps the message and retries.
            log.exception(
                "email: delivery failed (from %s, %d bytes)", envelope.mail_from, len(raw)
            )
            return "451 4.3.0 Temporary failure, please try again later"
        return str(verdict.reply)


class _Receiver(SMTP):
    """aiosmtpd's server, which refuses an oversized message itself (552, without keeping
    it): this says so in our log too, naming the sender."""

    async def push(self, status: AnyStr) -> None:
        text = status.decode() if isinstance(status, bytes) else str(status)
        if text.startswith("552"):
            # At MAIL FROM (the client announced SIZE) or at the end of DATA.
            sender = self.envelope.mail_from if self.envelope is not None else None
            peer = self.session.peer if self.session is not None else None
            log.warning(
                "email: refused a message larger than %d bytes from %s (client %s): %s",
                self.data_size_limit,
                sender or "an unnamed sender",
                peer[0] if isinstance(peer, tuple) else peer,
                text,
            )
        await super().push(status)


class SmtpInbox:
    """An SMTP server for the support address; ``port`` is the bound one after ``start``."""

    def __init__(
        self,
        delivery: Delivery,
        *,
        host: str,
        port: int,
        max_bytes: int,
        hostname: str | None = None,
        factory: Callable[..., SMTP] = _Receiver,
    ) -> None:
        self.delivery, self.host, self.port = delivery, host, port
        self.max_bytes, self.hostname, self._factory = max_bytes, hostname, factory
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        handler = _Handler(self.delivery)

        def protocol() -> SMTP:
            # data_size_limit: a larger message is refused with 552 before it is stored.
            return self._factory(
                handler,
                data_size_limit=self.max_bytes,
                enable_SMTPUTF8=True,
                hostname=self.hostname,
                ident="allhours",
                loop=loop,
            )

        self._server = await loop.create_server(protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("email: receiving on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
