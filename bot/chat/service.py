"""The chat service: a customer's message end to end, for the widget socket and REST alike.

validate -> persist (commit) -> acknowledge -> if a human owns the conversation, tell the
agents and stay silent; otherwise take a turn (engine + policy) -> stream the answer ->
persist it -> send it; or hand off / ask to rephrase. Everything goes out through the hub,
so every socket of the conversation (in any process) and the agent console see it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from sqlalchemy.orm import Session, sessionmaker

from bot import logs
from bot.answering.engine import Engine
from bot.chat import conversations, turn
from bot.chat.context import load_context
from bot.chat.events import MessagePublic, message_event, message_public
from bot.chat.handoff import HandoffDesk, StaffNames
from bot.chat.hub import AGENTS, Hub, RedisHub, conversation_channel, make_hub
from bot.chat.leases import Leases, LocalLeases, RedisLeases, holding
from bot.chat.notices import notice
from bot.chat.ratelimit import Limiter, RateLimited, RateLimiter, RedisRateLimiter
from bot.chat.tokens import TokenSigner
from bot.chat.widgets import OpenWidgets
from bot.config import Settings
from bot.consoles import RedisSockets
from bot.db import clock_of, session_scope
from handoff import queue
from handoff.policy import PolicyConfig
from handoff.states import State, bot_speaks

log = logging.getLogger(__name__)
# How long an open widget counts without renewal (it renews every third of that): the widgets
# of a process that died stop counting after this.
_WIDGET_TTL_S = 30.0
_WIDGETS = "allhours:widgets:"
T = TypeVar("T")

# Turns running at once; the rest wait their turn instead of piling onto the CPU. The
# engine's own CPU work runs in threads, so a few in flight keep both cores busy; this also
# bounds the worker threads an offline turn takes (see ``turn._prepare``).
_MAX_TURNS = 8
# SQLite has one writer at a time: more threads would only queue on its lock.
_DB_THREADS = 8


class ChatError(Exception):
    """A request the customer can fix; ``code`` is one of the widget protocol's error codes."""

    def __init__(self, code: str, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.retry_after_s = code, message, retry_after_s
        self.client_id: str | None = None  # the refused message's, when there is one


class ChatService:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: sessionmaker[Session],
        hub: Hub,
        engine: Engine,
        policy: PolicyConfig,
        limiter: Limiter,
        leases: Leases,
        tokens: TokenSigner,
        staff_names: StaffNames,
        widgets: OpenWidgets,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.now = clock_of(sessions)  # the app's clock, which also stamps the stored rows
        self.hub = hub
        self.engine = engine
        self.policy = policy
        self.limiter = limiter
        self.leases = leases
        self.tokens = tokens
        self.desk = HandoffDesk(self, settings, staff_names)
        self.turn_slots = asyncio.Semaphore(_MAX_TURNS)
        self._db_threads = anyio.CapacityLimiter(_DB_THREADS)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.widgets = widgets  # counted by the widget's sockets, read by the email outbox
        self.observer: turn.TurnObserver | None = None

    # -- plumbing ------------------------------------------------------------------------

    async def db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a crud function with a fresh session in a worker thread."""

        def work() -> T:
            with session_scope(self.sessions) as session:
                return fn(session=session, **kwargs)

        return await anyio.to_thread.run_sync(work, limiter=self._db_threads)

    async def publish(self, conversation_id: str, event: dict[str, Any]) -> None:
        await self.hub.publish(conversation_channel(conversation_id), event)

    async def store(
        self, conversation_id: str, role: str, text: str, **fields: Any
    ) -> MessagePublic:
        """Persist a company-side message and send it to everyone following the conversation."""
        stream_id = fields.pop("stream_id", None)
        stored = await self.db(
            conversations.add_message,
            conversation_id=conversation_id,
            role=role,
            text=text,
            **fields,
        )
        public = message_public(stored.message, stream_id=stream_id)
        await self.publish(conversation_id, message_event(public))
        return public

    def lock(self, conversation_id: str) -> asyncio.Lock:
        """One turn at a time per conversation, so answers come in question order."""
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    # -- the customer's side -------------------------------------------------------------

    def check_text(self, text: str) -> str:
        if not text.strip():
            raise ChatError("empty", "The message is empty.")
        limit = self.settings.max_message_chars
        if len(text) > limit:
            raise ChatError("too_long", f"The message is longer than {limit} characters.")
        return text

    async def check_rate(self, *, ip: str, conversation_id: str | None = None) -> None:
        try:
            await self.limiter.admit(ip=ip, conversation_id=conversation_id)
        except RateLimited as error:
            raise ChatError(
                "rate_limited", str(error), retry_after_s=error.retry_after_s
            ) from error

    async def receive(
        self, *, conversation_id: str, client_id: str, text: str, ip: str
    ) -> tuple[MessagePublic, bool, bool]:
        """Store a customer message: (stored message, duplicate, needs a reply)."""
        self.check_text(text)
        await self.check_rate(ip=ip, conversation_id=conversation_id)
        stored = await self.db(
            conversations.add_message,
            conversation_id=conversation_id,
            role="customer",
            text=text,
            client_id=client_id,
        )
        public = message_public(stored.message)
        if stored.created:
            await self.publish(conversation_id, message_event(public))
            return public, False, True
        # A re-send: answer it only if nothing answered it yet (a process may have died
        # mid-turn); ``reply(unless_answered=True)`` checks again once it holds the turn.
        unanswered = await self.db(_is_last, conversation_id=conversation_id, seq=public.seq)
        return public, True, unanswered

    def reply_later(
        self, conversation_id: str, question: MessagePublic, *, unless_answered: bool = False
    ) -> None:
        """Answer in the background: the socket keeps reading while the bot thinks."""
        reply = self.reply(conversation_id, question, unless_answered=unless_answered)
        task = asyncio.create_task(reply)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self, conversation_id: str) -> None:
        """A widget (re)connected: if the bot owes the customer an answer that nobody is
        working on (the process that took the turn died), answer it now. Waits while another
        process holds the turn; its lease runs out if it is dead."""
        question = await self.db(_owed, conversation_id=conversation_id)
        if question is not None:
            self.reply_later(conversation_id, message_public(question), unless_answered=True)

    async def reply(
        self, conversation_id: str, question: MessagePublic, *, unless_answered: bool = False
    ) -> list[MessagePublic]:
        """The company's answer to a stored customer message (empty while a human owns it).
        With ``unless_answered``: nothing if the question is no longer the last message."""
        logs.conversation_id.set(conversation_id)  # a widget socket's turns run in tasks
        # One turn at a time per conversation: in this process (the lock keeps question
        # order), and across processes (the lease, renewed while the turn runs).
        ttl_s = self.settings.turn_lease_s
        async with self.lock(conversation_id), holding(self.leases, conversation_id, ttl_s):
            if unless_answered and not await self.db(
                _is_last, conversation_id=conversation_id, seq=question.seq
            ):
                return []
            context = await self.db(load_context, conversation_id=conversation_id, seq=question.seq)
            if not bot_speaks(context.state):
                event = {"type": "message", "conversation_id": conversation_id}
                await self.hub.publish(AGENTS, {**event, "message": message_event(question)})
                return []
            if context.state == State.resolved:
                await self.desk.back_to_bot(conversation_id)
            await self.publish(conversation_id, {"type": "typing", "role": "bot", "on": True})
            started = time.perf_counter()
            try:
                return await turn.take(self, conversation_id, question, context)
            except Exception:
                log.exception("turn failed in conversation %s", conversation_id)
                text = notice(context.lang, "failed")
                return [await self.store(conversation_id, "system", text)]
            finally:
                if self.observer:
                    self.observer.turn_took(time.perf_counter() - started)
                await self.publish(conversation_id, {"type": "typing", "role": "bot", "on": False})

    async def typing(self, conversation_id: str) -> None:
        await self.publish(conversation_id, {"type": "typing", "role": "customer", "on": True})

    async def history(self, conversation_id: str, after: int) -> list[MessagePublic]:
        messages = await self.db(
            conversations.messages_after, conversation_id=conversation_id, after=after
        )
        return [message_public(message) for message in messages]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.hub.close()


def _is_last(*, session: Session, conversation_id: str, seq: int) -> bool:
    conversation = conversations.get_conversation(session=session, conversation_id=conversation_id)
    return conversation is not None and conversation.last_seq == seq


def _owed(*, session: Session, conversation_id: str) -> Any:
    """The customer's last message if the bot speaks and has not answered it, else None."""
    conversation = conversations.get_conversation(session=session, conversation_id=conversation_id)
    state = queue.state_of(session=session, conversation_id=conversation_id)
    if conversation is None or not bot_speaks(state):
        return None
    last = conversations.messages_after(
        session=session, conversation_id=conversation_id, after=conversation.last_seq - 1
    )
    return last[0] if last and last[0].role == "customer" else None


def make_chat_service(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    engine: Engine,
    policy: PolicyConfig,
    staff_names: StaffNames,
) -> ChatService:
    """The service with its hub, rate limits, leases and token signer chosen by settings:
    with the Redis hub, limits, leases and open widgets are shared through Redis too."""
    limits = {
        "per_ip": settings.rate_limit_ip_per_minute,
        "per_conversation": settings.rate_limit_conversation_per_minute,
    }
    limiter: Limiter = RateLimiter(**limits)
    leases: Leases = LocalLeases()
    hub = make_hub(settings)
    widgets = OpenWidgets()
    if isinstance(hub, RedisHub):
        limiter, leases = RedisRateLimiter(hub.client, **limits), RedisLeases(hub.client)
        widgets = OpenWidgets(RedisSockets(hub.client, ttl_s=_WIDGET_TTL_S, prefix=_WIDGETS))
    return ChatService(
        settings=settings,
        sessions=sessions,
        hub=hub,
        engine=engine,
        policy=policy,
        limiter=limiter,
        leases=leases,
        tokens=TokenSigner(settings.secret_key.get_secret_value()),
        staff_names=staff_names,
        widgets=widgets,
    )
