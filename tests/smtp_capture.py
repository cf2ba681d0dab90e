"""A capturing SMTP server on localhost for outbound-mail tests: aiosmtpd's ``Controller``
(its own thread and loop) with a handler that keeps every message it is given."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from evals.services import free_port


class Captured:
    """The messages received so far; ``wait_for`` blocks until one matches (bounded)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._changed = threading.Condition()
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._changed:
            self.messages.append(message)  # type: ignore[arg-type]
            self._changed.notify_all()
        return "250 OK"

    def wait_for(
        self, match: Callable[[EmailMessage], bool], *, timeout: float = 60
    ) -> EmailMessage:
        def found() -> EmailMessage | None:
            return next((m for m in self.messages if match(m)), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout=timeout):
                subjects = [str(m["Subject"]) for m in self.messages]
                raise AssertionError(f"no matching email within {timeout} s; got {subjects}")
            return found()  # type: ignore[return-value]

    def to(self, address: str) -> list[EmailMessage]:
        with self._changed:
            return [m for m in self.messages if address in str(m["To"])]


def text_of(email: EmailMessage) -> str:
    return email.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


@contextmanager
def capturing_smtp() -> Iterator[Captured]:
    captured = Captured()
    captured.port = free_port()
    controller = Controller(captured, hostname="127.0.0.1", port=captured.port)
    controller.start()
    try:
        yield captured
    finally:
        controller.stop()
