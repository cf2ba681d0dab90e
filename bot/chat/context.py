"""What a turn needs to know about the conversation so far, read in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.chat.conversations import ConversationNotFound, Turn, get_conversation
from bot.chat.models import Message
from handoff import queue
from handoff.policy import Reason, TurnFacts
from handoff.states import State

_RECENT = 12  # messages of history the engine and the policy look at
_LOW = {str(Reason.low_confidence), str(Reason.no_answer)}


@dataclass(frozen=True)
class Context:
    state: State
    lang: str
    recent: list[Message]  # before the question, oldest first

    @property
    def history(self) -> list[Turn]:
        return [(message.role, message.text) for message in self.recent]


def load_context(*, session: Session, conversation_id: str, seq: int) -> Context:
    """The state, the language and the messages before message ``seq``."""
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq < seq)
        .order_by(Message.seq.desc())
        .limit(_RECENT)
    )
    recent = list(session.scalars(query))[::-1]
    state = queue.state_of(session=session, conversation_id=conversation_id)
    return Context(state=state, lang=conversation.lang, recent=recent)


def turn_facts(text: str, context: Context) -> TurnFacts:
    """The policy's view of this turn before the engine has scored it (confidence unknown)."""
    return TurnFacts(
        text=text,
        confidence=None,
        previous_customer_texts=tuple(m.text for m in context.recent if m.role == "customer"),
        low_confidence_streak=_low_streak(context.recent),
        clarified=any(m.decision == "clarify" for m in context.recent),
    )


def _low_streak(recent: list[Message]) -> int:
    # Low-confidence bot turns in a row at the end, looking past the customer's messages.
    streak = 0
    for message in reversed(recent):
        if message.role == "customer":
            continue
        if message.role != "bot" or message.reason not in _LOW:
            break
        streak += 1
    return streak
