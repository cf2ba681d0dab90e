"""The conversation port, with email: an agent's reply is posted as before, and also emailed
when the customer reads email (``EmailChannel.agent_replied`` decides). Agents reply the same
way on both channels."""

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
            self.channel.later(self.channel.outbox.agent_replied(conversation_id, event))
        return event

    def publish(self, conversation_id: str, event: dict[str, Any]) -> None:
        self.inner.publish(conversation_id, event)
