"""Ranking: dense and BM25 candidates fused per chunk, then the best chunk per document."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from retrieval.documents import Chunk, Hit
from retrieval.lexical import LexicalIndex
from retrieval.sections import passage_text

# How many chunks each retriever proposes before fusion.
CANDIDATES = 50
# Weight of the dense cosine in the fused score; BM25, divided by the query's ceiling (see
# LexicalIndex.scores), gets the rest. Chosen on three sets of different character: a product
# manual where exact terms win, Wikipedia passages where meaning wins, and paraphrased
# questions on kb_docs; 0.45-0.55 did well on all three, scaling BM25 by its best chunk did not.
DENSE_WEIGHT = 0.55
# A document's score adds this share of its second-best chunk: a document that matches in two
# places is the likelier answer (+1 to +3 points Recall@1 on the manual, neutral elsewhere).
SECOND_CHUNK_WEIGHT = 0.1

MODES = ("hybrid", "dense", "bm25")


class ChunkTable:
    """An immutable snapshot of the indexed chunks; the index swaps in a new one on change."""

    def __init__(self, chunks: Sequence[Chunk], vectors: np.ndarray | None = None) -> None:
        """``chunks`` ordered by document and position; ``vectors``: their unit embeddings,
        one row each, for the in-memory dense search (None: the vector store searches)."""
        self.chunks = list(chunks)
        self.vectors = vectors
        self.rows = {chunk.chunk_id: row for row, chunk in enumerate(self.chunks)}
        doc_ids = np.array([chunk.doc_id for chunk in self.chunks], dtype=object)
        self.doc_of = np.unique(doc_ids, return_inverse=True)[1] if self.chunks else doc_ids
        self.lexical = LexicalIndex([chunk.embed_text for chunk in self.chunks])
        # Each row's (start, end) rows: of its section (document and heading path), of its document.
        self._sections = _runs(self.chunks, lambda c: (c.doc_id, c.heading_path))
        self._documents = _runs(self.chunks, lambda c: c.doc_id)

    def __len__(self) -> int:
        return len(self.chunks)

    def dense(self, vector: Sequence[float], n: int) -> list[tuple[str, float]]:
        """The ``n`` chunks nearest to ``vector`` as (chunk id, cosine), best first: one
        matrix-vector product over the unit vectors held in memory."""
        query = np.asarray(vector, dtype=np.float32)
        cosines = self.vectors @ (query / max(float(np.linalg.norm(query)), 1e-12))
        top = np.argpartition(-cosines, n - 1)[:n] if n < len(cosines) else np.arange(len(cosines))
        top = top[np.argsort(-cosines[top], kind="stable")]
        return [(self.chunks[row].chunk_id, float(cosines[row])) for row in top]

    def section(self, row: int) -> str:
        """The passage around chunk ``row``: its section, maybe with neighbouring ones (see
        ``sections.passage_text``)."""
        start, end = self._documents[row]
        bounds = [self._sections[start]]
        while bounds[-1][1] < end:
            bounds.append(self._sections[bounds[-1][1]])
        chunks = self.chunks
        sections = [(chunks[a].heading_path, [c.text for c in chunks[a:b]]) for a, b in bounds]
        own = self._sections[row]
        return passage_text(sections, bounds.index(own), row - own[0])


def rank(
    table: ChunkTable,
    *,
    dense: Sequence[tuple[str, float]] | None,
    bm25: tuple[np.ndarray, float] | None,
    k: int,
    per_doc: int = 1,
) -> list[Hit]:
    """Hits for the best ``k`` documents. ``dense`` is (chunk id, cosine) best first, as the
    vector store returned it; ``bm25`` is one score per chunk and the query's ceiling, as
    LexicalIndex.scores returns them. Pass one of them for a single-retriever ranking (each
    document then scores as its best chunk), both for the hybrid.

    With ``per_doc`` > 1 each document also brings its next-best chunks (up to ``per_doc`` in
    all, each carrying the document's score), right after its best one: a reader can then
    pick the section that answers among those of the right article."""
    n = len(table)
    dense_score = np.full(n, np.nan, dtype=np.float32)
    dense_rank = np.zeros(n, dtype=np.int64)
    for position, (chunk_id, cosine) in enumerate(dense or ()):
        row = table.rows.get(chunk_id)
        if row is not None:  # a chunk deleted since the query began is simply skipped
            dense_score[row], dense_rank[row] = cosine, position + 1
    bm25_score, ceiling = bm25 if bm25 is not None else (None, 0.0)
    bm25_rank = np.zeros(n, dtype=np.int64)
    if bm25_score is not None and n:
        top = np.argpartition(-bm25_score, min(CANDIDATES, n) - 1)[:CANDIDATES]
        top = top[bm25_score[top] > 0]
        order = top[np.argsort(-bm25_score[top], kind="stable")]
        bm25_rank[order] = np.arange(1, len(top) + 1)

    fused = np.full(n, -np.inf, dtype=np.float32)
    in_dense, in_bm25 = dense_rank > 0, bm25_rank > 0
    second_weight = 0.0
    if bm25_score is None:
        fused[in_dense] = dense_score[in_dense]
    elif dense is None:
        fused[in_bm25] = bm25_score[in_bm25]
    else:
        # A chunk outside the dense list scores as the list's last entry: an upper bound of
        # what it would have had, so a strong BM25 match is not punished for missing there.
        floor = dense_score[in_dense].min() if in_dense.any() else 0.0
        semantic = np.where(in_dense, dense_score, floor)
        lexical = np.minimum(np.where(in_bm25, bm25_score, 0.0) / max(ceiling, 1e-9), 1.0)
        either = in_dense | in_bm25
        combined = DENSE_WEIGHT * semantic + (1 - DENSE_WEIGHT) * lexical
        fused[either] = combined[either]
        second_weight = SECOND_CHUNK_WEIGHT
    rows, scores = _best_per_document(table, fused, k, second_weight, per_doc)
    return [
        _hit(table, row, score, dense_score, dense_rank, bm25_score, bm25_rank)
        for row, score in zip(rows, scores, strict=True)
    ]


def _best_per_document(
    table: ChunkTable, fused: np.ndarray, k: int, second_weight: float, per_doc: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best chunks (``per_doc`` at most) of each of the top ``k`` documents, and each
    chunk's document score."""
    rows = np.flatnonzero(np.isfinite(fused))
    order = rows[np.argsort(-fused[rows], kind="stable")]
    docs = table.doc_of[order]
    # np.unique gives each document's first (so best) position in the ordered rows; run
    # again on what is left, it gives each document's second-best chunk.
    doc_ids, first = np.unique(docs, return_index=True)
    best, score = order[first], fused[order[first]]
    if second_weight:
        rest = np.ones(len(order), dtype=bool)
        rest[first] = False
        seconds, second = np.unique(docs[rest], return_index=True)
        score = score.copy()
        score[np.searchsorted(doc_ids, seconds)] += second_weight * fused[order[rest][second]]
    top = np.argsort(-score, kind="stable")[:k]
    if per_doc <= 1:
        return best[top], score[top]
    rows, scores = [], []
    for doc, doc_score in zip(doc_ids[top], score[top], strict=True):
        chunks = order[docs == doc][:per_doc]  # this document's chunks, best first
        rows.extend(chunks)
        scores.extend([doc_score] * len(chunks))
    return np.asarray(rows, dtype=np.int64), np.asarray(scores, dtype=np.float32)


def _hit(table, row, score, dense_score, dense_rank, bm25, bm25_rank) -> Hit:
    chunk = table.chunks[row]
    return Hit(
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        heading_path=chunk.heading_path,
        url=chunk.url,
        text=chunk.text,
        version=chunk.version,
        score=float(score),
        dense_score=None if np.isnan(dense_score[row]) else float(dense_score[row]),
        bm25_score=None if bm25 is None else float(bm25[row]),
        dense_rank=int(dense_rank[row]) or None,
        bm25_rank=int(bm25_rank[row]) or None,
        section=table.section(row),
    )


def _runs(chunks: list[Chunk], key: Callable[[Chunk], object]) -> list[tuple[int, int]]:
    """For each row, the (start, end) of the run of consecutive rows with its key."""
    runs: list[tuple[int, int]] = []
    start = 0
    for row in range(1, len(chunks) + 1):
        if row == len(chunks) or key(chunks[row - 1]) != key(chunks[row]):
            runs.extend([(start, row)] * (row - start))
            start = row
    return runs
