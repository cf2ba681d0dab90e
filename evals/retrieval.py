"""Document-level retrieval quality: Recall@1, Recall@5 and MRR@10 for each retriever."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from bot.answering.reader import Reader
from bot.config import Settings
from evals.datasets import load_dataset
from retrieval.embeddings import make_embeddings
from retrieval.index import KnowledgeIndex

# Report key -> search mode; "engine" is the hybrid list reranked by the reader.
RETRIEVERS = {"hybrid": "hybrid", "bm25": "bm25", "dense": "dense"}
LABELS = {
    "engine": "reranked (engine)",
    "hybrid": "hybrid",
    "bm25": "BM25 only",
    "dense": "dense only",
}
DEPTH = 10


def compare_retrievers(
    index: KnowledgeIndex,
    questions: Sequence[Any],
    *,
    reader: Reader,
    candidates: int,
    per_doc: int,
) -> dict[str, dict]:
    """Figures per retriever over the answerable questions (dicts or objects with
    ``question``, ``answerable`` and ``gold_docs``). Multi-turn questions are searched by
    their last message, as the dataset format defines ``question``. "engine" is what the
    answering engine sees: the hybrid list with its first ``candidates`` documents (``per_doc``
    passages each) reranked by the reader."""
    rows = [_as_mapping(q) for q in questions]
    rows = [q for q in rows if q["answerable"] and q["gold_docs"]]
    texts = [q["question"] for q in rows]
    # One batched encode for all questions: the same vectors as embed_query, much faster.
    vectors = index.embeddings.embed_documents(texts) if texts else []
    gold = [set(q["gold_docs"]) for q in rows]
    engine = []
    for text, vector in zip(texts, vectors, strict=True):
        head, _ = reader.read(index, text, vector, documents=candidates, per_doc=per_doc)
        tail = index.search_with_vector(text, vector, k=max(DEPTH, candidates))[candidates:]
        engine.append([hit.doc_id for hit in head + tail])
    figures = {"engine": score(engine, gold)}
    for key, mode in RETRIEVERS.items():
        ranked = [
            [hit.doc_id for hit in index.search_with_vector(text, vector, k=DEPTH, mode=mode)]
            for text, vector in zip(texts, vectors, strict=True)
        ]
        figures[key] = score(ranked, gold)
    return figures


def score(ranked: Sequence[Sequence[str]], gold: Sequence[set[str]]) -> dict[str, float]:
    """Recall@1, Recall@5 (any gold document in the top k) and MRR@10 per question, averaged."""
    n = len(ranked)
    recall1 = sum(bool(set(docs[:1]) & g) for docs, g in zip(ranked, gold, strict=True))
    recall5 = sum(bool(set(docs[:5]) & g) for docs, g in zip(ranked, gold, strict=True))
    mrr = sum(
        next((1 / (i + 1) for i, doc in enumerate(docs[:DEPTH]) if doc in g), 0.0)
        for docs, g in zip(ranked, gold, strict=True)
    )
    return {
        "recall@1": recall1 / n if n else 0.0,
        "recall@5": recall5 / n if n else 0.0,
        "mrr@10": mrr / n if n else 0.0,
        "n": n,
    }


def evaluate_dataset(
    path: str | Path,
    *,
    embeddings: Embeddings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Index a dataset's kb into a fresh temporary index and compare the retrievers."""
    dataset = load_dataset(path)
    embeddings = embeddings or make_embeddings("local")
    with tempfile.TemporaryDirectory(prefix="allhours-retrieval-") as folder:
        index = KnowledgeIndex(embeddings=embeddings, persist_dir=folder)
        report = index.sync(dataset.documents, progress=progress)
        settings = Settings()
        figures = compare_retrievers(
            index,
            dataset.questions,
            reader=Reader(),
            candidates=settings.reader_candidates,
            per_doc=settings.reader_chunks_per_doc,
        )
    return {
        "dataset": dataset.name,
        "documents": len(dataset.documents),
        "chunks": report.chunks_embedded,
        "retrievers": figures,
    }


def format_table(figures: Mapping[str, Mapping[str, float]]) -> str:
    header = f"{'retriever':<18}{'Recall@1':>10}{'Recall@5':>10}{'MRR@10':>10}{'n':>6}"
    lines = [header, "-" * len(header)]
    for key, row in figures.items():
        lines.append(
            f"{LABELS.get(key, key):<18}{row['recall@1']:>10.3f}{row['recall@5']:>10.3f}"
            f"{row['mrr@10']:>10.3f}{row['n']:>6}"
        )
    return "\n".join(lines)


def _as_mapping(question: Any) -> Mapping[str, Any]:
    if isinstance(question, Mapping):
        return question
    if is_dataclass(question) and not isinstance(question, type):
        return asdict(question)
    raise TypeError(f"not a question: {question!r}")
