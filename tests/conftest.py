"""Shared fixtures."""

from __future__ import annotations

import os

import pytest

from retrieval.embeddings import make_embeddings
from retrieval.index import KnowledgeIndex

os.environ.setdefault("HF_HUB_OFFLINE", "1")


# --- retrieval (keep at the top): the real packaged model, loaded once per session ---
@pytest.fixture(scope="session")
def embeddings():
    return make_embeddings("local")


@pytest.fixture
def kb_index(tmp_path, embeddings):
    """An empty persistent index in the test's own folder."""
    return KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path / "chroma")
