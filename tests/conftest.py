"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from bot.app import create_app
from bot.config import Settings
from retrieval.embeddings import make_embeddings
from retrieval.index import KnowledgeIndex
from tests.browser import launch_chromium, serve
from tests.openai_server import OpenAIServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
KB_DIR = Path(__file__).resolve().parent.parent / "kb_docs"


# --- retrieval (keep at the top): the real packaged model, loaded once per session ---
@pytest.fixture(scope="session")
def embeddings():
    return make_embeddings("local")


@pytest.fixture
def kb_index(tmp_path, embeddings):
    """An empty persistent index in the test's own folder."""
    return KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path / "chroma")


# The whole app over a real SQLite file and a real Chroma index of kb_docs. The index is
# built once per session (later apps find it in step with kb_docs and embed nothing); each
# test gets its own database.
@pytest.fixture(scope="session")
def kb_index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture
def chat_settings(kb_index_dir, tmp_path):
    def make(**overrides) -> Settings:
        values = {
            "data_dir": kb_index_dir,  # the Chroma index, shared
            "database_url": f"sqlite:///{tmp_path / 'chat.db'}",
            "kb_dir": KB_DIR,
            "secret_key": "k" * 32,
            "business_hours": "always",
            # The bot answers whatever its confidence, so these tests do not move with the
            # calibration; a test of low confidence raises the threshold itself.
            "handoff_threshold": 0.0,
        }
        return Settings(**{**values, **overrides})

    return make


@pytest.fixture
def chat_client(chat_settings) -> Iterator[TestClient]:
    with TestClient(create_app(chat_settings())) as test_client:
        yield test_client


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def remote_engine(tmp_path, kb_full_index, openai_server):
    """The engine with the OpenAI-compatible test server as its LLM."""
    from bot.answering.engine import make_answer_engine

    settings = Settings(
        data_dir=tmp_path,
        llm="openai",
        openai_base_url=openai_server.base_url,
        llm_timeout_s=5,
        llm_max_retries=0,
    )
    return make_answer_engine(settings, index=kb_full_index, embeddings=kb_full_index.embeddings)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is
    # open, and the non-browser tests after it need to run their own loops.
    with launch_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("live"),
        kb_dir=KB_DIR,
        secret_key="k" * 32,
        business_hours="always",
        rate_limit_ip_per_minute=1000,  # every browser test comes from 127.0.0.1
        handoff_threshold=0.0,  # the widget's behaviour, not the shipped calibration, is tested
    )
    with serve(create_app(settings)) as base_url:
        yield base_url


# --- bot engine: all of kb_docs indexed once per session, read-only for the tests ---
@pytest.fixture(scope="session")
def kb_full_dir(tmp_path_factory, embeddings) -> Path:
    """A data folder whose Chroma index holds every kb_docs article (copy it to write)."""
    from retrieval.loaders import load_folder

    folder = tmp_path_factory.mktemp("kb-full")
    documents, _errors = load_folder(KB_DIR)
    KnowledgeIndex(embeddings=embeddings, persist_dir=folder / "chroma").sync(documents)
    return folder


@pytest.fixture(scope="session")
def kb_full_index(kb_full_dir, embeddings) -> KnowledgeIndex:
    return KnowledgeIndex(embeddings=embeddings, persist_dir=kb_full_dir / "chroma")


# --- the at-scale topology: PostgreSQL, Redis, a Chroma server and two app processes ---
@pytest.fixture(scope="session")
def scale(tmp_path_factory):
    """Started once for the topology and fault tests; a test that stops a part starts it again."""
    from evals.postgres import binary
    from evals.services import REDIS_SERVER
    from tests.topology import topology

    if binary("initdb") is None or not Path(REDIS_SERVER).exists():
        pytest.skip("PostgreSQL and redis-server are needed (make system-deps installs them)")
    with topology(tmp_path_factory.mktemp("scale")) as started:
        yield started
