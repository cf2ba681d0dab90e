import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.answering.prompts import NO_ANSWER
from bot.app import create_app
from bot.config import Settings
from tests.conftest import KB_DIR


@pytest.fixture
def settings(tmp_path, kb_full_dir):
    """A data folder of its own that already holds the kb_docs index."""
    shutil.copytree(kb_full_dir / "chroma", tmp_path / "chroma")

    def make(**overrides) -> Settings:
        values = {"data_dir": tmp_path, "kb_dir": KB_DIR, "secret_key": "k" * 32}
        return Settings(**{**values, **overrides})

    return make


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings())) as client:
        yield client


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_ask_answers_with_citations_confidence_signals_and_decision(settings):
    # Threshold 0: the decision cannot hinge on how the calibration happens to be fitted.
    with TestClient(create_app(settings(handoff_threshold=0.0))) as client:
        response = client.post("/api/ask", json={"question": "Do you ship to Canada?"})
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "retrieval" and "Canada" in body["answer"]
    assert body["citations"][0]["doc_id"] == "shipping-shipping-options"
    assert body["citations"][0]["url"].startswith("https://help.tidewater.example/")
    assert 0 <= body["confidence"] <= 1
    assert {"dense_top", "bm25_top", "same_top", "coverage", "support"} <= set(body["signals"])
    assert body["decision"]["action"] == "answer"


def test_small_talk_has_no_confidence_and_no_sources(client):
    body = client.post("/api/ask", json={"question": "thank you!"}).json()
    assert body["kind"] == "smalltalk" and body["confidence"] is None
    assert body["citations"] == [] and body["signals"] == {}
    assert body["decision"]["action"] == "answer"


def test_the_history_condenses_a_follow_up(client):
    history = [
        {"role": "customer", "text": "How do I cancel my subscription?"},
        {"role": "bot", "text": "Go to Settings > Subscription. [1]"},
    ]
    body = client.post("/api/ask", json={"question": "and refunds?", "history": history}).json()
    assert body["condensed"] == "cancel subscription and refunds?"


@pytest.mark.parametrize(
    "payload",
    [
        {"question": ""},
        {"question": "x" * 2001},
        {"question": "hi", "history": [{"role": "hacker", "text": "x"}]},
        {"history": []},
    ],
)
def test_bad_requests_are_rejected(client, payload):
    assert client.post("/api/ask", json=payload).status_code == 422


def test_ask_past_the_per_address_limit_is_429_with_retry_after(settings):
    with TestClient(create_app(settings(rate_limit_ip_per_minute=2))) as client:
        for _ in range(2):
            assert client.post("/api/ask", json={"question": "hello"}).status_code == 200
        limited = client.post("/api/ask", json={"question": "hello"})
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert limited.json()["detail"]["code"] == "rate_limited"
        assert "try again" in limited.json()["detail"]["message"]
        # One budget per address: the widget API from the same address is refused too.
        assert client.post("/api/conversations", json={}).status_code == 429


def test_an_empty_index_is_filled_from_the_kb_folder_on_start(tmp_path, kb_full_dir):
    kb = tmp_path / "kb"
    (kb / "shipping").mkdir(parents=True)
    shutil.copy(KB_DIR / "shipping/shipping-options.md", kb / "shipping/shipping-options.md")
    settings = Settings(data_dir=tmp_path / "data", kb_dir=kb, secret_key="k" * 32)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.engine.index.doc_ids == {"shipping-shipping-options"}
        body = client.post("/api/ask", json={"question": "Do you ship to Canada?"}).json()
        assert body["citations"][0]["doc_id"] == "shipping-shipping-options"


def _remote(settings, openai_server) -> Settings:
    return settings(
        llm="openai", openai_base_url=openai_server.base_url, llm_timeout_s=5, llm_max_retries=0
    )


def test_a_failing_llm_is_a_503_with_the_reason(settings, openai_server):
    openai_server.status = 500
    with TestClient(create_app(_remote(settings, openai_server))) as client:
        response = client.post("/api/ask", json={"question": "How do I cancel my subscription?"})
    assert response.status_code == 503
    assert "HTTP 500" in response.json()["detail"]


def test_the_no_answer_marker_reaches_the_policy(settings, openai_server):
    openai_server.reply = NO_ANSWER
    with TestClient(create_app(_remote(settings, openai_server))) as client:
        body = client.post("/api/ask", json={"question": "Do you ship to Canada?"}).json()
    assert body["no_answer"] is True and body["answer"] == ""
    assert body["decision"]["reason"] == "no_answer"
    assert body["decision"]["action"] in {"clarify", "handoff"}
