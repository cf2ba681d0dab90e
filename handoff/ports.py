"""What handoff needs from the conversation side, as a Protocol that ``bot`` implements and
hands in when it builds the app (handoff never imports bot)."""

from __future__ import annotations

from typing import Any, Protocol


class ConversationPort(Protocol):
    def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every stored message in order, as dicts with at least ``role`` (customer, bot,
        agent, system) and ``text``; also ``seq``, ``author``, ``citations``,
        ``confidence`` and ``created_at`` when known (the widget protocol's message fields)."""
        ...

    def post_message(
        self, conversation_id: str, role: str, text: str, author: str
    ) -> dict[str, Any]:
        """Store a message (an agent's reply, or a system line such as "Ann joined") and
        deliver it to the customer; returns it as the widget protocol's ``message`` event.
        Committed before it is returned."""
        ...

    def publish(self, conversation_id: str, event: dict[str, Any]) -> None:
        """Send a transient event to the customer's widget (``state``, ``typing``)."""
        ...
