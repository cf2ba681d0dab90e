"""The reader: a cross-encoder trained by the project that scores whether a passage answers
the question. It reranks the retriever's candidates and is the main confidence signal.

The weights ship in ``reader_model/`` next to this module (trained by ``allhours-eval
train-reader``; see its MODEL_CARD.md) and load offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from retrieval.documents import Hit
from retrieval.index import KnowledgeIndex

MODEL_DIR = Path(__file__).parent / "reader_model"
MAX_TOKENS = 128
# A document is ranked by the reader's logit for its best passage plus this times its hybrid
# retrieval score (in [0, ~1.1]): the two err differently. Chosen, with the settings
# reader_candidates=5 and reader_chunks_per_doc=2, on the calibration sets (evals/devsets.py
# and evals/calibration_sets, never an evaluation set): mean Recall@1 over their answerable
# questions 0.813 with retrieval alone, 0.842 with 8, 0.858 on the plateau from 20 to 32.
RETRIEVAL_WEIGHT = 24.0


def format_passage(title: str, text: str) -> str:
    """What the reader reads of a passage: its title (or heading path) over its text."""
    return f"{title}\n{text}" if title else text


def hit_context(hit: Hit) -> str:
    """The title and headings over a passage, as the reader was trained to read them."""
    return " > ".join((hit.title, *hit.heading_path))


class Reader:
    """Scores (question, passage) pairs; thread-safe. One call at a time, on every core: on a
    small server a second concurrent forward pass only competes for the same cores, and torch
    gives a thread that did not ask for more only one (the turn threads), which left the other
    core idle while turns queued for the reader (docs/benchmarks.md)."""

    def __init__(self, model_dir: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar at every start

        self._torch = torch
        self.model_dir = Path(model_dir or MODEL_DIR)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        model = AutoModelForSequenceClassification.from_pretrained(
            self.model_dir, dtype=torch.float32
        )
        model.eval()
        # int8 weights for the linear layers: about twice as fast on a CPU, and the shipped
        # calibration is fitted on this quantised model, so the two never disagree.
        with warnings.catch_warnings():
            # torch 2.13 (pinned) warns that torch.ao.quantization will move to torchao (another
            # dependency); the call works unchanged in the pinned release.
            warnings.filterwarnings("ignore", "torch.ao.quantization is deprecated")
            warnings.filterwarnings("ignore", "torch.quantize_per_tensor")
            self.model = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8
            )
        self._lock = threading.Lock()

    def logits(self, question: str, passages: Sequence[tuple[str, str]]) -> list[float]:
        """One logit per (title, text) passage; higher: more likely to answer the question."""
        if not passages:
            return []
        encoded = self.tokenizer(
            [question] * len(passages),
            [format_passage(title, text) for title, text in passages],
            truncation="only_second",
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )
        with self._lock, self._torch.inference_mode():
            # torch keeps the count per thread: set for this call, in whichever thread makes it,
            # and restored (a query embedding in the same thread wants one, retrieval.embeddings).
            threads = self._torch.get_num_threads()
            self._torch.set_num_threads(os.cpu_count() or 1)
            try:
                out = self.model(**encoded).logits.squeeze(-1)
            finally:
                self._torch.set_num_threads(threads)
        return [float(x) for x in out.reshape(-1).tolist()]

    def rerank(self, question: str, hits: Sequence[Hit]) -> tuple[list[Hit], list[float]]:
        """One hit per document, the passage the reader rates best of those the document
        brought, best first by that logit plus the document's retrieval score; with the
        reader's logits in the same order."""
        logits = self.logits(question, [(hit_context(h), h.text) for h in hits])
        best: dict[str, int] = {}
        for i, hit in enumerate(hits):
            if hit.doc_id not in best or logits[i] > logits[best[hit.doc_id]]:
                best[hit.doc_id] = i
        order = sorted(
            best.values(),
            key=lambda i: logits[i] + RETRIEVAL_WEIGHT * hits[i].score,
            reverse=True,
        )
        return [hits[i] for i in order], [logits[i] for i in order]

    def read(
        self,
        index: KnowledgeIndex,
        question: str,
        vector: Sequence[float],
        *,
        documents: int,
        per_doc: int,
    ) -> tuple[list[Hit], list[float]]:
        """The hybrid retriever's best ``documents``, each with its ``per_doc`` best passages,
        reranked: what the engine answers from, best first, with the reader's logits."""
        hits = index.search_with_vector(question, vector, k=documents, per_doc=per_doc)
        return self.rerank(question, hits)


def card(model_dir: Path = MODEL_DIR) -> dict:
    return json.loads((Path(model_dir) / "card.json").read_text(encoding="utf-8"))


def weights_sha256(model_dir: Path = MODEL_DIR) -> str:
    return hashlib.sha256((Path(model_dir) / "model.safetensors").read_bytes()).hexdigest()
