"""The answering API's request and response bodies (``POST /api/ask``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from bot.answering.engine import Draft
from handoff.policy import Decision


class TurnIn(BaseModel):
    role: Literal["customer", "bot", "agent", "system"]
    text: str = Field(max_length=20_000)


class AskRequest(BaseModel):
    question: str = Field(min_length=1)  # the upper bound is settings.max_message_chars
    history: list[TurnIn] = Field(default_factory=list, max_length=50)


class CitationPublic(BaseModel):
    n: int
    doc_id: str
    title: str
    url: str
    version: int
    heading_path: list[str]


class DecisionPublic(BaseModel):
    action: str
    reason: str | None
    priority: int
    detail: str


class AskPublic(BaseModel):
    question: str
    condensed: str
    kind: str
    answer: str
    no_answer: bool
    citations: list[CitationPublic]
    confidence: float | None  # None for small talk: nothing was retrieved to judge
    signals: dict[str, float]
    decision: DecisionPublic

    @classmethod
    def from_turn(cls, draft: Draft, decision: Decision) -> AskPublic:
        return cls(
            question=draft.question,
            condensed=draft.condensed,
            kind=draft.kind,
            answer=draft.answer,
            no_answer=draft.no_answer,
            citations=[
                CitationPublic(
                    n=c.n,
                    doc_id=c.doc_id,
                    title=c.title,
                    url=c.url,
                    version=c.version,
                    heading_path=list(c.heading_path),
                )
                for c in draft.citations
            ],
            confidence=None if draft.kind == "smalltalk" else draft.confidence,
            signals=draft.signals,
            decision=DecisionPublic(
                action=str(decision.action),
                reason=str(decision.reason) if decision.reason else None,
                priority=decision.priority,
                detail=decision.detail,
            ),
        )
