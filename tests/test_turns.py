import asyncio

import pytest

from bot.answering.engine import make_answer_engine
from bot.answering.reader import RETRIEVAL_WEIGHT
from bot.answering.turns import answer_turn, decide_turn, make_policy, take_turn
from bot.config import Settings
from handoff.policy import Action, Reason, TurnFacts


@pytest.fixture
def engine(tmp_path, kb_full_index):
    settings = Settings(data_dir=tmp_path)
    return make_answer_engine(settings, index=kb_full_index, embeddings=kb_full_index.embeddings)


def _turn(engine, question: str, facts: TurnFacts | None = None, threshold: float | None = None):
    policy = make_policy(Settings(handoff_threshold=threshold), engine.calibration)
    return asyncio.run(
        take_turn(engine=engine, policy=policy, question=question, history=[], facts=facts)
    )


def test_the_threshold_comes_from_the_calibration_unless_set(engine):
    assert make_policy(Settings(), engine.calibration).threshold == engine.calibration.threshold
    assert make_policy(Settings(handoff_threshold=0.9), engine.calibration).threshold == 0.9
    assert make_policy(Settings(clarify_first=False), engine.calibration).clarify_first is False


def test_small_talk_is_answered_without_a_confidence_judgement(engine):
    outcome = _turn(engine, "hello", threshold=1.0)
    assert outcome.draft.kind == "smalltalk"
    assert outcome.decision.action == Action.answer


def test_a_confident_answer_is_answered_and_an_impossible_bar_is_not(engine):
    assert _turn(engine, "Do you ship to Canada?", threshold=0.0).decision.action == Action.answer
    strict = _turn(engine, "Do you ship to Canada?", threshold=1.0).decision
    assert (strict.action, strict.reason) == (Action.clarify, Reason.low_confidence)


def test_the_conversation_facts_reach_the_policy(engine):
    facts = TurnFacts(text="", confidence=None, requested=True)
    decision = _turn(engine, "Do you ship to Canada?", facts=facts).decision
    assert (decision.action, decision.reason) == (Action.handoff, Reason.requested)


def test_decide_turn_reads_the_draft_not_the_facts(engine):
    draft = asyncio.run(engine.answer("Do you ship to Canada?", []))
    draft.no_answer = True
    stale = TurnFacts(text="old text", confidence=0.99, no_answer=False)
    policy = make_policy(Settings(clarify_first=False), engine.calibration)
    assert decide_turn(draft, policy, stale).reason == Reason.no_answer


def test_answer_turn_always_has_the_answer(engine):
    policy = make_policy(Settings(), engine.calibration)
    outcome = asyncio.run(
        answer_turn(engine=engine, policy=policy, question="How do I return an item?", history=[])
    )
    assert outcome.draft.generated and outcome.draft.answer and outcome.draft.citations


# --- with a remote LLM (the local OpenAI-compatible test server) ---
def test_with_an_llm_the_model_reads_the_passages_in_the_readers_order(
    remote_engine, openai_server
):
    openai_server.reply = "Report it within 14 days. [1]"
    policy = make_policy(Settings(handoff_threshold=0.0), remote_engine.calibration)
    question = "my parcel says delivered but it never came"
    outcome = asyncio.run(
        answer_turn(engine=remote_engine, policy=policy, question=question, history=[])
    )
    draft = outcome.draft
    ranks = [
        x + RETRIEVAL_WEIGHT * h.score for x, h in zip(draft.reader_logits, draft.hits, strict=True)
    ]
    assert ranks == sorted(ranks, reverse=True)
    assert draft.hits[0].doc_id == "shipping-lost-or-damaged-parcel"
    assert draft.citations[0].doc_id == draft.hits[0].doc_id
    (request,) = openai_server.requests
    assert request["messages"][1]["content"].startswith(
        f'<passage id=1 source="{draft.hits[0].title}'
    )


def test_with_an_llm_a_question_the_reader_rejects_never_reaches_the_model(
    remote_engine, openai_server
):
    outcome = _turn(remote_engine, "Who won the football world cup in 2018?")
    assert outcome.decision.action != Action.answer
    assert outcome.decision.reason == Reason.low_confidence
    assert openai_server.requests == []  # gated before generation: no tokens spent


def test_with_an_llm_its_no_answer_still_hands_off(remote_engine, openai_server):
    openai_server.reply = "NO_ANSWER"
    policy = make_policy(
        Settings(handoff_threshold=0.0, clarify_first=False), remote_engine.calibration
    )
    question = "Do you ship to Canada?"
    outcome = asyncio.run(
        answer_turn(engine=remote_engine, policy=policy, question=question, history=[])
    )
    assert outcome.draft.no_answer and outcome.draft.answer == ""
    assert (outcome.decision.action, outcome.decision.reason) == (Action.handoff, Reason.no_answer)
