"""One bot turn: the engine prepares an answer and the policy decides; the answer streams
to the conversation and is stored, or the bot asks to rephrase, or hands off. When the search
or the model fails, times out or breaks off, a person takes over (``bot_unavailable``) and
what streamed is taken back (``stream_aborted``): a half answer is never left as if whole.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Protocol
from uuid import uuid4

import anyio

from bot.answering.engine import Draft, Engine, cite
from bot.answering.extractive import ExtractiveChatModel
from bot.answering.llms import LLMError
from bot.answering.turns import Outcome, decide_turn, take_turn
from bot.chat.context import Context, turn_facts
from bot.chat.events import MessagePublic
from bot.chat.handoff import HandoffDesk
from bot.chat.notices import notice
from handoff.policy import Action, Decision, PolicyConfig, Reason, TurnFacts

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)


class TurnObserver(Protocol):
    """Who measures the turns (the app's metrics)."""

    def turn_took(self, seconds: float) -> None: ...

    def llm_failed(self) -> None: ...


class ChatService(Protocol):
    """What a turn uses of the chat service (``bot.chat.service.ChatService``, which takes
    turns): named here so that this module does not import the service that imports it."""

    settings: Settings
    engine: Engine
    policy: PolicyConfig
    desk: HandoffDesk
    turn_slots: asyncio.Semaphore
    observer: TurnObserver | None

    async def publish(self, conversation_id: str, event: dict[str, Any]) -> None: ...

    async def store(
        self, conversation_id: str, role: str, text: str, **fields: Any
    ) -> MessagePublic: ...


async def take(
    chat: ChatService, conversation_id: str, question: MessagePublic, context: Context
) -> list[MessagePublic]:
    """The company's reply to ``question`` in a conversation the bot speaks for."""
    facts = turn_facts(question.text, context)
    try:
        async with chat.turn_slots:
            outcome = await _prepare(chat, question.text, context, facts)
    except Exception as error:  # the search (Chroma) or the model failed: a person takes over
        log.warning("turn in %s: no answer possible: %r", conversation_id, error)
        if isinstance(error, LLMError) and chat.observer:
            chat.observer.llm_failed()
        return await _unavailable(chat, conversation_id, context.lang, None, error)
    decision, draft = outcome.decision, outcome.draft
    if decision.action == Action.answer:
        stream_id = uuid4().hex
        try:
            async with asyncio.timeout(chat.settings.llm_timeout_s):
                await _stream(chat, conversation_id, draft, stream_id)
        except (LLMError, TimeoutError) as error:
            if chat.observer:
                chat.observer.llm_failed()
            # What streamed is no answer: the widget drops it, and a person takes over.
            aborted = {"type": "stream_aborted", "stream_id": stream_id}
            await chat.publish(conversation_id, aborted)
            return await _unavailable(chat, conversation_id, context.lang, draft, error)
        else:
            if not draft.no_answer:
                fields = _scored(draft, decision)
                citations = [asdict(citation) for citation in draft.citations]
                answer = await chat.store(
                    conversation_id,
                    "bot",
                    draft.answer,
                    citations=citations,
                    stream_id=stream_id,
                    **fields,
                )
                return [answer]
            # A remote model found nothing to say only once it ran: decide again.
            decision = decide_turn(draft, chat.policy, facts)
    if decision.action == Action.clarify:
        return [await _clarify(chat, conversation_id, context, draft, decision)]
    return await chat.desk.hand_off(conversation_id, context.lang, decision, draft)


async def _unavailable(
    chat: ChatService, conversation_id: str, lang: str, draft: Draft | None, error: BaseException
) -> list[MessagePublic]:
    priority = chat.policy.priorities[Reason.bot_unavailable]
    detail = str(error) or "the answer took longer than the LLM timeout"
    decision = Decision(Action.handoff, Reason.bot_unavailable, priority, detail)
    return await chat.desk.hand_off(conversation_id, lang, decision, draft)


async def _clarify(
    chat: ChatService, conversation_id: str, context: Context, draft: Draft, decision: Decision
) -> MessagePublic:
    """Ask to rephrase; offer the best article as a link when it is plausibly related."""
    suggested = draft.hits[:1] if draft.confidence >= chat.settings.suggest_threshold else []
    citations = [asdict(citation) for citation in cite("[1]", suggested)]
    text = notice(context.lang, "suggest" if citations else "clarify")
    return await chat.store(
        conversation_id, "bot", text, citations=citations, **_scored(draft, decision)
    )


async def _prepare(chat: ChatService, question: str, context: Context, facts: TurnFacts) -> Outcome:
    async def turn() -> Outcome:
        return await take_turn(
            engine=chat.engine,
            policy=chat.policy,
            question=question,
            history=context.history,
            facts=facts,
        )

    if not isinstance(chat.engine.chat_model, ExtractiveChatModel):
        return await turn()  # a remote model: mostly waiting on the network, on this loop
    # The offline turn is CPU work from end to end (embedding, search, composing and
    # scoring the answer): in a worker thread, with its own loop, it never holds up the
    # other conversations' sockets. It touches nothing bound to this loop.
    return await anyio.to_thread.run_sync(lambda: asyncio.run(turn()))


async def _stream(chat: ChatService, conversation_id: str, draft: Draft, stream_id: str) -> None:
    async for piece in chat.engine.stream(draft):
        token = {"type": "token", "stream_id": stream_id, "text": piece}
        await chat.publish(conversation_id, token)


def _scored(draft: Draft, decision: Decision) -> dict[str, Any]:
    return {
        "confidence": None if draft.kind == "smalltalk" else draft.confidence,
        "signals": dict(draft.signals) or None,
        "decision": str(decision.action),
        "reason": str(decision.reason) if decision.reason else None,
    }
