"""One turn's decision path, shared by the widget, REST, the CLI, evals and the editor.

``take_turn`` prepares the draft (small talk, retrieval, confidence; the extractive answer
too) and lets ``handoff.policy`` decide. It does not drain the answer stream: the caller
streams ``engine.stream(draft)`` when the decision is to answer. With a remote LLM the model
may still say NO_ANSWER while streaming; call ``decide_turn`` again on the finished draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.answering.confidence import Calibration
from bot.answering.engine import Draft, Engine, Turn
from bot.config import Settings
from handoff.policy import Decision, PolicyConfig, TurnFacts, decide


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    draft: Draft


def make_policy(settings: Settings, calibration: Calibration) -> PolicyConfig:
    """The policy's threshold comes from settings when set, else from the calibration."""
    threshold = settings.handoff_threshold
    return PolicyConfig(
        threshold=calibration.threshold if threshold is None else threshold,
        clarify_first=settings.clarify_first,
    )


def decide_turn(draft: Draft, policy: PolicyConfig, facts: TurnFacts | None = None) -> Decision:
    """The policy's decision on a draft; ``facts`` carries what the conversation knows."""
    facts = facts or TurnFacts(text=draft.question, confidence=None)
    return decide(
        replace(
            facts,
            text=draft.question,
            # Small talk has no retrieval, so no confidence to judge.
            confidence=None if draft.kind == "smalltalk" else draft.confidence,
            no_answer=draft.no_answer,
        ),
        policy,
    )


async def take_turn(
    *,
    engine: Engine,
    policy: PolicyConfig,
    question: str,
    history: Sequence[Turn],
    facts: TurnFacts | None = None,
) -> Outcome:
    draft = await engine.prepare(question, history)
    return Outcome(decide_turn(draft, policy, facts), draft)


async def answer_turn(
    *,
    engine: Engine,
    policy: PolicyConfig,
    question: str,
    history: Sequence[Turn],
    facts: TurnFacts | None = None,
) -> Outcome:
    """``take_turn`` with the answer always generated, for callers that do not stream (REST,
    CLI, evals): they show what the bot would say next to the decision. Raises ``LLMError``."""
    outcome = await take_turn(
        engine=engine, policy=policy, question=question, history=history, facts=facts
    )
    draft = outcome.draft
    if draft.generated:
        return outcome
    async for _ in engine.stream(draft):
        pass
    # The model may have said NO_ANSWER, and the answer signals are final only now.
    return Outcome(decide_turn(draft, policy, facts), draft)
