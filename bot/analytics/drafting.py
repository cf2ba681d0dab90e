"""Closing the loop on a knowledge gap: draft an article from its questions (and, with an
LLM, from the agents' replies), and later ask its questions again to count how many the bot
now answers."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from bot.answering.engine import Engine
from bot.answering.llms import LLMError, invoke_text
from bot.answering.prompts import draft_article_messages
from bot.answering.turns import answer_turn
from bot.chat.models import Message
from handoff.policy import Action, PolicyConfig
from retrieval.schemas import ArticleDraft

log = logging.getLogger(__name__)
MAX_QUESTIONS = 50  # a form could name any number; a gap this big is split anyway
_REF = re.compile(r"^([0-9a-f]{1,32}):(\d{1,9})$")
_TITLE_CHARS = 120


@dataclass(frozen=True)
class Recheck:
    asked: int
    answered: int
    results: list[tuple[str, str]]  # (question, answer | clarify | handoff | error)


def parse_refs(refs: list[str]) -> list[tuple[str, int]]:
    """The well-formed ``conversation:seq`` references, at most ``MAX_QUESTIONS``."""
    found = [m for m in (_REF.match(ref.strip()) for ref in refs) if m]
    return [(m.group(1), int(m.group(2))) for m in found][:MAX_QUESTIONS]


def questions_of(*, session: Session, refs: list[str]) -> list[str]:
    """The customer messages that ``refs`` name, in the order given, each text once."""
    keys = parse_refs(refs)
    if not keys:
        return []
    rows = session.execute(
        select(Message.conversation_id, Message.seq, Message.text).where(
            tuple_(Message.conversation_id, Message.seq).in_(keys), Message.role == "customer"
        )
    )
    texts = {(cid, seq): text for cid, seq, text in rows}
    return list(dict.fromkeys(texts[key] for key in keys if key in texts))


def agent_replies(*, session: Session, refs: list[str]) -> list[str]:
    """What agents wrote in the conversations of ``refs``: the facts a draft may use."""
    conversations = {cid for cid, _ in parse_refs(refs)}
    query = (
        select(Message.text)
        .where(Message.conversation_id.in_(conversations), Message.role == "agent")
        .order_by(Message.conversation_id, Message.seq)
    )
    return list(dict.fromkeys(session.scalars(query)))


async def draft_article(
    engine: Engine, questions: list[str], replies: list[str], *, use_llm: bool
) -> ArticleDraft:
    """A new article for review: the questions to answer, and with ``use_llm`` a body that
    the LLM wrote from the agents' replies (left out if the LLM fails)."""
    title = questions[0][:_TITLE_CHARS] if questions else "New article"
    listed = "\n".join(f"- {q}" for q in questions)
    body = f"# {title}\n\n## Questions customers asked\n\n{listed}\n\n## Answer\n\n"
    drafted = False
    if use_llm and questions:
        try:
            text = await invoke_text(engine.chat_model, draft_article_messages(questions, replies))
        except LLMError:
            log.warning("could not draft an article body", exc_info=True)
        else:
            body += f"> Draft for review: written by the LLM from agents' replies.\n\n{text}\n"
            drafted = bool(text.strip())
    return ArticleDraft(title=title, tags=["draft"], body=body, drafted=drafted)


async def recheck(engine: Engine, policy: PolicyConfig, questions: list[str]) -> Recheck:
    """Ask each question again, alone, through the widget's own turn."""
    results = []
    for question in questions:
        try:
            outcome = await answer_turn(engine=engine, policy=policy, question=question, history=())
        except LLMError:  # the customer would have been handed off: not answered
            results.append((question, "error"))
            continue
        results.append((question, str(outcome.decision.action)))
    answered = sum(decision == Action.answer for _, decision in results)
    return Recheck(asked=len(results), answered=answered, results=results)
