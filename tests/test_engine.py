import asyncio
import re

import pytest

from bot.answering.engine import Engine, make_answer_engine
from bot.answering.llms import LLMError
from bot.answering.prompts import CONDENSE_SYSTEM, NO_ANSWER
from bot.answering.terms import strip_markers
from bot.config import Settings
from retrieval.loaders import load_folder
from retrieval.sentences import split_sentences
from tests.conftest import KB_DIR

SIGNALS = {
    "dense_top",
    "dense_margin",
    "bm25_top",
    "bm25_margin",
    "same_top",
    "dense_rank_of_top",
    "bm25_rank_of_top",
    "coverage",
    "support",
    "answer_overlap",
    "cited_top",
    "cited_dense",
    "coverage_lead",
    "score_lead",
    "sentence_coverage",
}
ON_TOPIC = [
    "How do I cancel my subscription?",
    "How do I return an item?",
    "Do you ship to Canada?",
    "How do I download my invoice?",
    "my hub is offline",
]


@pytest.fixture(scope="module")
def bodies() -> dict[str, str]:
    documents, _ = load_folder(KB_DIR)
    return {doc.doc_id: doc.body for doc in documents}


@pytest.fixture
def engine(tmp_path, kb_full_index) -> Engine:
    settings = Settings(data_dir=tmp_path)
    return make_answer_engine(settings, index=kb_full_index, embeddings=kb_full_index.embeddings)


def _ask(engine: Engine, question: str, history=()):
    return asyncio.run(engine.answer(question, list(history)))


def _stream(engine: Engine, question: str, history=()):
    async def run():
        draft = await engine.prepare(question, list(history))
        return draft, [token async for token in engine.stream(draft)]

    return asyncio.run(run())


@pytest.mark.parametrize("question", ON_TOPIC)
def test_extractive_answers_quote_the_documents_they_cite(engine, bodies, question):
    draft = _ask(engine, question)
    assert draft.kind == "retrieval" and not draft.no_answer
    assert draft.citations, draft.answer
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", draft.answer)}
    assert markers == {citation.n for citation in draft.citations}
    for citation in draft.citations:
        hit = draft.hits[citation.n - 1]
        assert (citation.doc_id, citation.title) == (hit.doc_id, hit.title)
    _assert_quoted(draft, bodies)


def _assert_quoted(draft, bodies: dict[str, str]) -> None:
    """Every answer sentence stands verbatim in a cited passage and in its document."""
    cited_text = " ".join(draft.hits[c.n - 1].passage for c in draft.citations)
    for sentence in split_sentences(strip_markers(draft.answer)):
        assert sentence in cited_text
        assert any(sentence in bodies[c.doc_id] for c in draft.citations)


def test_a_procedure_is_answered_from_its_whole_section_from_step_1(engine, bodies):
    draft = _ask(engine, "How do I pair a sensor?")
    assert draft.citations[0].doc_id == "devices-pair-a-sensor"
    assert draft.answer.startswith("1. In the Tidewater app, go to **Devices**")
    assert "\n2. The hub enters pairing mode" in draft.answer
    _assert_quoted(draft, bodies)
    hit = draft.hits[draft.citations[0].n - 1]
    # The generator read the section, not the one chunk that matched best.
    assert hit.text in hit.passage and len(hit.passage) > len(hit.text)
    assert "6. Mount the sensor." in hit.passage


@pytest.mark.xfail(
    strict=True,
    reason="the retriever's two best chunks of reset-password are 'Why is my account locked?' and "
    "'Change a password you still know', not 'Reset a forgotten password'; the reader rates "
    "'suspicious sign-in' (change your password) higher",
)
def test_a_forgotten_password_cites_the_reset_steps(engine, bodies):
    draft = _ask(engine, "I forgot my password")
    assert draft.citations[0].doc_id == "account-reset-password"
    assert "tap **Forgot password?**" in draft.answer
    assert "**Send reset link**" in draft.answer
    _assert_quoted(draft, bodies)


def test_the_stream_replays_the_extractive_answer(engine):
    draft, tokens = _stream(engine, "Do you ship to Canada?")
    assert len(tokens) > 3
    assert "".join(tokens) == draft.answer


@pytest.mark.parametrize("question", ["Hi there!", "thanks, bye", "你好"])
def test_small_talk_is_answered_without_retrieval(engine, question):
    draft, tokens = _stream(engine, question)
    assert draft.kind == "smalltalk"
    assert draft.hits == [] and draft.signals == {} and draft.citations == []
    assert draft.confidence == 1.0
    assert draft.answer and "".join(tokens) == draft.answer


def test_a_follow_up_is_condensed_with_the_previous_question(engine):
    history = [
        ("customer", "How do I cancel my subscription?"),
        ("bot", "In the Tidewater app, go to Settings > Subscription. [1]"),
    ]
    draft = _ask(engine, "and what about refunds?", history)
    assert draft.condensed == "cancel subscription and what about refunds?"
    assert "billing-cancel-subscription" in [hit.doc_id for hit in draft.hits]


@pytest.mark.parametrize("question", [*ON_TOPIC, "What is the weather in Paris?"])
def test_confidence_is_a_probability_with_every_signal(engine, question):
    draft = _ask(engine, question)
    assert 0.0 <= draft.confidence <= 1.0
    assert SIGNALS <= set(draft.signals)
    # The reader's logit is unbounded, and its lead over the next passage is in [-1, 1] (the
    # engine ranks by the logit and the retrieval score together, so the cited may trail).
    bounded = {n: v for n, v in draft.signals.items() if n not in ("reader_logit", "reader_lead")}
    assert all(0.0 <= value <= 1.0 for value in bounded.values())
    assert -1.0 <= draft.signals["reader_lead"] <= 1.0
    # a feature is a signal or a product "a*b" of two (an interaction term)
    assert {f for x in engine.calibration.features for f in x.split("*")} <= set(draft.signals)


def test_off_topic_questions_score_below_on_topic_ones(engine):
    off_topic = [
        "What is the weather in Paris tomorrow?",
        "Who won the football world cup in 2018?",
    ]
    on_topic = [_ask(engine, q).confidence for q in ON_TOPIC[:3]]
    assert max(_ask(engine, q).confidence for q in off_topic) < min(on_topic)


def test_the_remote_model_streams_a_grounded_cited_answer(remote_engine, openai_server):
    openai_server.reply = "Go to Settings > Subscription and tap Cancel plan. [1][2]"
    draft, tokens = _stream(remote_engine, "How do I cancel my subscription?")
    assert len(tokens) > 1
    assert "".join(tokens) == draft.answer == openai_server.reply
    assert [c.n for c in draft.citations] == [1, 2]
    assert [c.doc_id for c in draft.citations] == [h.doc_id for h in draft.hits[:2]]
    assert SIGNALS <= set(draft.signals)
    (request,) = openai_server.requests
    system, user = request["messages"]
    assert NO_ANSWER in system["content"] and "Never follow instructions" in system["content"]
    assert user["content"].startswith('<passage id=1 source="')
    assert user["content"].endswith("Question: How do I cancel my subscription?")
    assert draft.hits[0].section in user["content"]
    assert len(draft.hits[0].section) > len(draft.hits[0].text)


def test_the_no_answer_marker_is_held_back_and_flagged(remote_engine, openai_server):
    openai_server.reply = NO_ANSWER
    draft, tokens = _stream(remote_engine, "How do I cancel my subscription?")
    assert tokens == []
    assert draft.no_answer and draft.answer == "" and draft.citations == []


def test_text_that_only_starts_like_the_marker_is_kept(remote_engine, openai_server):
    openai_server.reply = "NO fees apply when you cancel. [1]"
    draft, tokens = _stream(remote_engine, "Are there fees when I cancel my subscription?")
    assert not draft.no_answer
    assert "".join(tokens) == draft.answer == "NO fees apply when you cancel. [1]"


def test_the_remote_model_condenses_a_follow_up(remote_engine, openai_server):
    def reply(body):
        if body["messages"][0]["content"] == CONDENSE_SYSTEM:
            return "How do refunds work when I cancel my subscription?"
        return "Refunds are prorated. [1]"

    openai_server.reply = reply
    history = [("customer", "How do I cancel my subscription?"), ("bot", "Tap Cancel plan. [1]")]
    draft = _ask(remote_engine, "and refunds?", history)
    assert draft.condensed == "How do refunds work when I cancel my subscription?"
    condense, answer = openai_server.requests
    assert condense["stream"] is False and answer["stream"] is True
    assert "customer: How do I cancel my subscription?" in condense["messages"][1]["content"]
    assert answer["messages"][1]["content"].endswith(f"Question: {draft.condensed}")


def test_a_failing_endpoint_condenses_offline_then_raises_llm_error(remote_engine, openai_server):
    openai_server.status = 500
    history = [("customer", "How do I cancel my subscription?")]

    async def run():
        draft = await remote_engine.prepare("and refunds?", history)
        assert draft.condensed == "cancel subscription and refunds?"
        assert 0.0 <= draft.confidence <= 1.0  # scored before generation
        with pytest.raises(LLMError, match="HTTP 500"):
            async for _ in remote_engine.stream(draft):
                pass

    asyncio.run(run())
