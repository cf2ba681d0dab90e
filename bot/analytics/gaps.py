"""Knowledge gaps: the customer questions the bot could not answer, grouped by meaning.

A question counts when its turn ended in a handoff for low confidence or repeated failure, in
a request to rephrase, or in an answer the customer gave a thumbs-down. The questions are
embedded with the engine's own model and grouped by agglomerative clustering (average linkage,
cosine distance, no fixed number of groups: a group stops growing at ``gap_distance``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from langchain_core.embeddings import Embeddings
from sklearn.cluster import AgglomerativeClustering

from bot.analytics.facts import Chat, Facts

UNANSWERED_REASONS = ("low_confidence", "repeated_failure")


@dataclass(frozen=True)
class Question:
    conversation_id: str
    seq: int  # the customer's message
    text: str
    at: datetime
    why: str  # handoff:<reason> | clarify | thumbs_down
    cited: str | None  # the article the bot cited or suggested, if any

    @property
    def ref(self) -> str:
        """How forms and the editor's draft route name the question."""
        return f"{self.conversation_id}:{self.seq}"


@dataclass(frozen=True)
class Gap:
    key: str  # stable while the group's questions stay the same
    title: str  # the question closest to the group's centre
    questions: list[Question]  # newest first
    latest: datetime
    cited: list[str]  # the articles the bot pointed to, most cited first

    @property
    def refs(self) -> list[str]:
        return [question.ref for question in self.questions]


def unanswered(facts: Facts) -> list[Question]:
    """The period's unanswered questions, once each, oldest first."""
    found: dict[str, Question] = {}
    for chat in facts.chats:
        for message in chat.messages:
            why = _why(chat, message.seq, message.role, message.decision, message.reason)
            asked = chat.asked_before(message.seq) if why else None
            if why is None or asked is None:
                continue
            cited = message.citations[0].get("title") if message.citations else None
            question = Question(chat.id, asked.seq, asked.text, asked.at, why, cited)
            found.setdefault(question.ref, question)
    return sorted(found.values(), key=lambda q: (q.at, q.ref))


def _why(chat: Chat, seq: int, role: str, decision: str | None, reason: str | None) -> str | None:
    if decision == "handoff" and reason in UNANSWERED_REASONS:
        return f"handoff:{reason}"
    if role == "bot" and decision == "clarify":
        return "clarify"
    if role == "bot" and chat.feedback.get(seq) == "down":
        return "thumbs_down"
    return None


def find_gaps(questions: list[Question], embeddings: Embeddings, *, distance: float) -> list[Gap]:
    """Group ``questions`` by meaning; the biggest groups first, then the most recent."""
    if not questions:
        return []
    vectors = np.asarray(embeddings.embed_documents([q.text for q in questions]), dtype=float)
    if len(questions) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
        )
        labels = model.fit_predict(vectors)
    gaps = [_gap(questions, vectors, labels == label) for label in sorted(set(labels.tolist()))]
    return sorted(gaps, key=lambda g: (-len(g.questions), -g.latest.timestamp(), g.key))


def _gap(questions: list[Question], vectors: np.ndarray, members: np.ndarray) -> Gap:
    chosen = [q for q, keep in zip(questions, members, strict=True) if keep]
    group = vectors[members]
    unit = group / np.maximum(np.linalg.norm(group, axis=1, keepdims=True), 1e-12)
    central = chosen[int(np.argmax(unit @ unit.mean(axis=0)))]
    cited: dict[str, int] = {}
    for q in chosen:
        if q.cited:
            cited[q.cited] = cited.get(q.cited, 0) + 1
    refs = sorted(q.ref for q in chosen)
    return Gap(
        key=hashlib.sha1("\n".join(refs).encode()).hexdigest()[:12],
        title=central.text,
        questions=sorted(chosen, key=lambda q: (q.at, q.ref), reverse=True),
        latest=max(q.at for q in chosen),
        cited=sorted(cited, key=lambda title: (-cited[title], title)),
    )
