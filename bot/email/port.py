"""The conversation port, with email: an agent's reply is posted as before, and also emailed
when the customer reads email (``Outbox.reads_email`` decides). Agents reply the same way on
both channels. Called from worker threads (the console's routes)."""

from __future__ import annotations

from typing import Any

from bot.chat.port import ChatPort
from bot.email.channel import EmailChannel


class EmailingPort:
    def __init__(self, inner: ChatPort, channel: EmailChannel) -> None:
        self.inner, self.channel = inner, channel

    def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.inner.transcript(conversation_id)

    def post_message(
        self, conversation_id: str, role: str, text: str, author: str
    ) -> dict[str, Any]:
        event = self.inner.post_message(conversation_id, role, text, author)
        if role == "agent":
            # Decided before the agent's request returns, on whether the customer has the
            # widget open as the reply goes out; sent in the background.
            outbox = self.channel.outbox
            address = self.inner.run(outbox.reads_email(conversation_id))
            if address is not None:
                self.channel.later(outbox.agent_replied(conversation_id, event, to=address))
        return event

    def publish(self, conversation_id: str, event: dict[str, Any]) -> None:
        self.inner.publish(conversation_id, event)
