"""Where the chat meets the handoff queue: open a ticket with its packet, tell the customer
their place (or that nobody is there), cancel, return to the bot, leave a contact address."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.answering.engine import Draft
from bot.chat import conversations
from bot.chat.events import MessagePublic, StatePublic, message_event, message_public
from bot.chat.hub import AGENTS, Hub
from bot.chat.models import Message
from bot.chat.notices import notice, queue_notice
from handoff import queue
from handoff.hours import BusinessHours
from handoff.models import AgentStatus
from handoff.packet import build_packet
from handoff.policy import Decision, PolicyConfig, TurnFacts, decide
from handoff.presence import is_offline
from handoff.states import IllegalTransition, State, bot_speaks
from handoff.waiting import queue_position

if TYPE_CHECKING:
    from bot.config import Settings

T = TypeVar("T")


class Chat(Protocol):
    """What the desk uses of the chat service (``bot.chat.service.ChatService``, which builds
    the desk): named here so that this module does not import the service that imports it."""

    hub: Hub
    policy: PolicyConfig
    now: Callable[[], datetime]  # the app's clock

    async def db(self, fn: Callable[..., T], /, **kwargs: Any) -> T: ...

    async def publish(self, conversation_id: str, event: dict[str, Any]) -> None: ...

    async def store(
        self, conversation_id: str, role: str, text: str, **fields: Any
    ) -> MessagePublic: ...

    def lock(self, conversation_id: str) -> asyncio.Lock: ...


class StaffNames(Protocol):
    """A staff member's display name by user id (``bot.staff.users.display_name``, handed in
    by the app: the conversation side does not import staff sign-in)."""

    def __call__(self, *, session: Session, user_id: str) -> str | None: ...


class QueueListener(Protocol):
    """Who hears of the customers' own changes to the queue (the app sets the console's
    services), so that both sides tell people the same way."""

    async def ticket_opened(self) -> None: ...  # auto-assignment, when on

    async def queue_moved(self) -> None: ...  # the waiting customers' new places


class HandoffDesk:
    def __init__(self, chat: Chat, settings: Settings, staff_names: StaffNames) -> None:
        self.chat = chat
        self.staff_names = staff_names
        self.hours = BusinessHours.parse(settings.business_hours, settings.timezone)
        self.listener: QueueListener | None = None

    async def hand_off(
        self, conversation_id: str, lang: str, decision: Decision, draft: Draft | None
    ) -> list[MessagePublic]:
        """bot -> queued with the packet; the customer hears their place, the agents hear of it."""
        try:
            state = await self.chat.db(
                _open_ticket,
                conversation_id=conversation_id,
                decision=decision,
                draft=draft,
                hours=self.hours,
                now=self.chat.now(),
                staff_names=self.staff_names,
            )
        except IllegalTransition:
            return []  # already queued or with an agent: nothing new to say
        text = queue_notice(
            lang, position=state.position, eta_s=state.eta_s, offline=bool(state.offline)
        )
        await self.chat.publish(conversation_id, state.model_dump(exclude_none=True))
        message = await self.chat.store(
            conversation_id,
            "system",
            text,
            confidence=_confidence(draft),
            decision="handoff",
            reason=str(decision.reason),
        )
        await self.chat.hub.publish(
            AGENTS,
            {
                "type": "queued",
                "conversation_id": conversation_id,
                "reason": str(decision.reason),
                "priority": decision.priority,
                "offline": state.offline,
            },
        )
        if self.listener is not None:
            await self.listener.ticket_opened()
        return [message]

    async def request(self, conversation_id: str, lang: str) -> list[MessagePublic]:
        """The widget's "Talk to a person" control."""
        decision = decide(TurnFacts(text="", confidence=None, requested=True), self.chat.policy)
        async with self.chat.lock(conversation_id):
            if (
                await self.chat.db(queue.state_of, conversation_id=conversation_id)
                == State.resolved
            ):
                await self.back_to_bot(conversation_id)
            return await self.hand_off(conversation_id, lang, decision, None)

    async def cancel(self, conversation_id: str, lang: str) -> list[MessagePublic]:
        """queued -> bot: the customer stops waiting. Raises ``IllegalTransition`` otherwise."""
        async with self.chat.lock(conversation_id):
            await self.chat.db(queue.cancel, conversation_id=conversation_id, now=self.chat.now())
            await self.chat.publish(conversation_id, {"type": "state", "state": "bot"})
            await self.chat.hub.publish(
                AGENTS, {"type": "cancelled", "conversation_id": conversation_id}
            )
            back = await self.chat.store(conversation_id, "system", notice(lang, "back"))
        if self.listener is not None:
            await self.listener.queue_moved()  # those behind move up
        return [back]

    async def back_to_bot(self, conversation_id: str) -> None:
        """resolved -> bot: the customer writes again after an agent closed the conversation."""
        await self.chat.db(
            queue.return_to_bot, conversation_id=conversation_id, now=self.chat.now()
        )
        await self.chat.publish(conversation_id, {"type": "state", "state": "bot"})

    async def contact(self, conversation_id: str, lang: str, email: str) -> list[MessagePublic]:
        """The customer leaves an email address (for an offline ticket, typically)."""
        queued = await self.chat.db(_set_contact, conversation_id=conversation_id, email=email)
        if queued:
            event = {"type": "contact", "conversation_id": conversation_id, "email": email}
            await self.chat.hub.publish(AGENTS, event)
        return [
            await self.chat.store(conversation_id, "system", notice(lang, "contact", email=email))
        ]

    async def state(self, conversation_id: str) -> StatePublic:
        return await self.chat.db(
            _state, conversation_id=conversation_id, staff_names=self.staff_names
        )


def _open_ticket(
    *,
    session: Session,
    conversation_id: str,
    decision: Decision,
    draft: Draft | None,
    hours: BusinessHours,
    now: datetime,
    staff_names: StaffNames,
) -> StatePublic:
    conversation = conversations.get_conversation(session=session, conversation_id=conversation_id)
    if conversation is None:
        raise conversations.ConversationNotFound(conversation_id)
    offline = is_offline(session=session, hours=hours, now=now)
    queue.open_handoff(
        session=session,
        conversation_id=conversation_id,
        reason=str(decision.reason),
        priority=decision.priority,
        packet=_packet(session, conversation_id, decision, draft, conversation.contact_email),
        now=now,
        lang=conversation.lang,
        detail=decision.detail,
        offline=offline,
        contact_email=conversation.contact_email,
        channel=conversation.channel,
    )
    return _state(
        session=session, conversation_id=conversation_id, staff_names=staff_names, offline=offline
    )


def _state(
    *,
    session: Session,
    conversation_id: str,
    staff_names: StaffNames,
    offline: bool | None = None,
) -> StatePublic:
    ticket = queue.get_ticket(session=session, conversation_id=conversation_id)
    state = State(ticket.state) if ticket else State.bot
    if state != State.queued:
        agent_id = ticket.agent_id if ticket else None
        return StatePublic(state=state, agent=_agent_name(session, agent_id, staff_names))
    position, eta_s = queue_position(session=session, conversation_id=conversation_id) or (1, None)
    offline = ticket.offline if offline is None else offline
    return StatePublic(state=state, position=position, eta_s=eta_s, offline=offline)


def _agent_name(session: Session, agent_id: str | None, staff_names: StaffNames) -> str | None:
    """The display name the live events carry ("Ana joined"), never the id: the console's
    name for the agent, else the staff user's (console agent ids are user ids)."""
    if not agent_id:
        return None
    status = session.get(AgentStatus, agent_id)
    if status is not None and status.name:
        return status.name
    return staff_names(session=session, user_id=agent_id)


def _packet(
    session: Session,
    conversation_id: str,
    decision: Decision,
    draft: Draft | None,
    contact: str | None,
) -> dict[str, Any]:
    query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
    transcript = [message_event(message_public(m)) for m in session.scalars(query)]
    customer_texts = [m["text"] for m in transcript if m["role"] == "customer"]
    goal = draft.condensed if draft is not None and draft.condensed else ""
    return build_packet(
        transcript=transcript,
        goal=goal or (customer_texts[-1] if customer_texts else ""),
        reason=str(decision.reason),
        confidence=_confidence(draft),
        contact=contact,
        detail=decision.detail,
    )


def _confidence(draft: Draft | None) -> float | None:
    return draft.confidence if draft is not None and draft.kind != "smalltalk" else None


def _set_contact(*, session: Session, conversation_id: str, email: str) -> bool:
    """Store the address on the conversation, and on its ticket if it waits: True then."""
    conversations.set_contact(session=session, conversation_id=conversation_id, email=email)
    if bot_speaks(queue.state_of(session=session, conversation_id=conversation_id)):
        return False
    queue.set_contact(session=session, conversation_id=conversation_id, email=email)
    return True
