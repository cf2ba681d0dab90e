"""``handoff.ports.ConversationPort`` over the chat service: how the agent side reads a
transcript, posts an agent's message and sends transient events to the customer's widget.

The port is synchronous (handoff's code runs in worker threads or plain functions); events go
out on the app's event loop, in the order they were given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from bot.chat import conversations
from bot.chat.events import message_event, message_public
from bot.chat.service import ChatService
from bot.db import session_scope

T = TypeVar("T")


class ChatPort:
    def __init__(self, chat: ChatService, loop: asyncio.AbstractEventLoop) -> None:
        self.chat = chat
        self._loop = loop
        self._pending: set[asyncio.Task[None]] = set()

    def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        with session_scope(self.chat.sessions) as session:
            messages = conversations.messages_after(
                session=session, conversation_id=conversation_id
            )
            return [message_event(message_public(message)) for message in messages]

    def post_message(
        self, conversation_id: str, role: str, text: str, author: str
    ) -> dict[str, Any]:
        with session_scope(self.chat.sessions) as session:
            stored = conversations.add_message(
                session=session,
                conversation_id=conversation_id,
                role=role,
                text=text,
                author=author or None,
            )
            event = message_event(message_public(stored.message))
        self.publish(conversation_id, event)
        return event

    def publish(self, conversation_id: str, event: dict[str, Any]) -> None:
        coroutine = self.chat.publish(conversation_id, event)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            # Called from the loop itself (a sync helper inside a route): no blocking here.
            task = self._loop.create_task(coroutine)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        else:
            self.run(coroutine)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 10) -> T:
        """Run on the app's loop and wait for the result, from a worker thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=timeout_s)
