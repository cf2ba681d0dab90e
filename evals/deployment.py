"""A fresh temporary deployment with an evaluation dataset loaded, asked every question.

The same settings as the server (environment, ``.env``) except the data folder, which is a
temporary one, and the knowledge base, which is the dataset's ``kb/``. Every question goes
through ``bot.answering.turns.answer_turn``: the engine and the handoff policy of the widget.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bot.answering.engine import Draft, Engine, make_answer_engine, make_embeddings_for, open_index
from bot.answering.turns import Outcome, answer_turn, decide_turn, make_policy
from bot.config import Settings
from evals import metrics
from evals.datasets import load_dataset
from handoff.policy import Decision, PolicyConfig

_WARM_UP = "warm up the model before timing"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    history: tuple[tuple[str, str], ...]
    answerable: bool
    gold_docs: tuple[str, ...]
    answer: str
    category: str


def fingerprint(dataset: Path) -> str:
    """Identifies a dataset's questions, whatever folder it was copied to."""
    return hashlib.sha256((dataset / "questions.jsonl").read_bytes()).hexdigest()[:16]


def load_questions(rows: list[dict]) -> list[Question]:
    return [
        Question(
            id=row["id"],
            question=row["question"],
            history=tuple((t["role"], t["text"]) for t in row.get("history", [])),
            answerable=bool(row["answerable"]),
            gold_docs=tuple(row.get("gold_docs", [])),
            answer=row.get("answer", ""),
            category=row.get("category", ""),
        )
        for row in rows
    ]


@dataclass
class Result:
    """One question's turn: what the engine drafted and what the policy decided."""

    question: Question
    draft: Draft
    decision: Decision
    latency_ms: float

    @property
    def cited(self) -> list[str]:
        # Primary first: the answer's first citation. Kept for handoffs too, so a threshold
        # sweep can tell whether the answer it would have given was right.
        return [c.doc_id for c in self.draft.citations]

    @property
    def correct(self) -> bool:
        q = self.question
        return metrics.is_correct(answerable=q.answerable, gold=q.gold_docs, cited=self.cited)

    @property
    def group(self) -> str:
        """The top retrieved document: near-duplicate questions share it (for grouped CV)."""
        return self.draft.hits[0].doc_id if self.draft.hits else ""

    def redecide(self, confidence: float, policy: PolicyConfig) -> Result:
        """The same policy on the same draft with another confidence (out-of-fold)."""
        draft = replace(self.draft, confidence=confidence)
        return replace(self, draft=draft, decision=decide_turn(draft, policy))

    def prediction(self) -> dict:
        """One line of predictions.jsonl (the shared evaluation format)."""
        return {
            "id": self.question.id,
            "decision": str(self.decision.action),
            "reason": None if self.decision.reason is None else str(self.decision.reason),
            "confidence": float(self.draft.confidence),
            "cited_docs": self.cited,
            "answer": self.draft.answer,
            "latency_ms": round(self.latency_ms, 3),
        }


@dataclass
class Deployment:
    settings: Settings
    engine: Engine
    policy: PolicyConfig
    documents: int
    questions: list[Question]

    def ask_all(self) -> list[Result]:
        return asyncio.run(self._ask_all())

    async def _ask_all(self) -> list[Result]:
        return [await self._ask(q) for q in self.questions]

    async def _ask(self, q: Question) -> Result:
        started = time.perf_counter()
        outcome: Outcome = await answer_turn(
            engine=self.engine, policy=self.policy, question=q.question, history=q.history
        )
        elapsed = (time.perf_counter() - started) * 1000
        return Result(q, outcome.draft, outcome.decision, elapsed)


@contextmanager
def deploy(dataset: Path, settings: Settings | None = None) -> Iterator[Deployment]:
    """Index the dataset's ``kb/`` into a temporary data folder and build the engine."""
    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="allhours-eval-") as folder:
        # Fresh and local: never the configured Chroma server or database.
        fresh = {
            "data_dir": Path(folder),
            "kb_dir": dataset / "kb",
            "chroma_url": "",
            "database_url": "",
        }
        settings = base.model_copy(update=fresh)
        embeddings = make_embeddings_for(settings)
        index = open_index(settings, embeddings)
        loaded = load_dataset(dataset)
        index.sync(loaded.documents)
        engine = make_answer_engine(settings, index=index, embeddings=embeddings)
        asyncio.run(engine.answer(_WARM_UP, []))  # first-call costs stay out of the latencies
        policy = make_policy(settings, engine.calibration)
        questions = load_questions(loaded.questions)
        yield Deployment(settings, engine, policy, len(loaded.documents), questions)
