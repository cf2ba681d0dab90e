"""Ranking: dense and BM25 candidates fused per chunk, then the best chunk per document."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.documents import Chunk, Hit
from retrieval.lexical import LexicalIndex

# How many chunks each retriever proposes before fusion.
CANDIDATES = 50
# Weight of the dense cosine in the fused score; BM25 (scaled to [0, 1] by the query's best
# chunk) gets the rest. Tuned on two eval sets of opposite character (a product manual where
# exact terms win, Wikipedia passages where meaning wins): 0.4-0.6 all did well on both.
DENSE_WEIGHT = 0.5

MODES = ("hybrid", "dense", "bm25")


class ChunkTable:
    """An immutable snapshot of the indexed chunks; the index swaps in a new one on change."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = list(chunks)
        self.rows = {chunk.chunk_id: row for row, chunk in enumerate(self.chunks)}
        doc_ids = np.array([chunk.doc_id for chunk in self.chunks], dtype=object)
        self.doc_of = np.unique(doc_ids, return_inverse=True)[1] if self.chunks else doc_ids
        self.lexical = LexicalIndex([chunk.embed_text for chunk in self.chunks])

    def __len__(self) -> int:
        return len(self.chunks)


def rank(
    table: ChunkTable,
    *,
    dense: Sequence[tuple[str, float]] | None,
    bm25: np.ndarray | None,
    k: int,
    dense_weight: float = DENSE_WEIGHT,
) -> list[Hit]:
    """Hits for the best ``k`` documents. ``dense`` is (chunk id, cosine) best first, as the
    vector store returned it; ``bm25`` is one score per chunk. Pass one of them for a
    single-retriever ranking, both for the hybrid."""
    n = len(table)
    dense_score = np.full(n, np.nan, dtype=np.float32)
    dense_rank = np.zeros(n, dtype=np.int64)
    for position, (chunk_id, cosine) in enumerate(dense or ()):
        row = table.rows.get(chunk_id)
        if row is not None:  # a chunk deleted since the query began is simply skipped
            dense_score[row], dense_rank[row] = cosine, position + 1
    bm25_rank = np.zeros(n, dtype=np.int64)
    if bm25 is not None and n:
        top = np.argpartition(-bm25, min(CANDIDATES, n) - 1)[:CANDIDATES]
        top = top[bm25[top] > 0]
        bm25_rank[top[np.argsort(-bm25[top], kind="stable")]] = np.arange(1, len(top) + 1)

    fused = np.full(n, -np.inf, dtype=np.float32)
    in_dense, in_bm25 = dense_rank > 0, bm25_rank > 0
    if dense is None:
        fused[in_bm25] = bm25[in_bm25]
    elif bm25 is None:
        fused[in_dense] = dense_score[in_dense]
    else:
        # A chunk outside the dense list scores as the list's last entry: an upper bound of
        # what it would have had, so a strong BM25 match is not punished for missing there.
        floor = dense_score[in_dense].min() if in_dense.any() else 0.0
        lexical = np.where(in_bm25, bm25, 0.0) / max(float(bm25.max()), 1e-9)
        either = in_dense | in_bm25
        semantic = np.where(in_dense, dense_score, floor)
        combined = dense_weight * semantic + (1 - dense_weight) * lexical
        fused[either] = combined[either]
    return [
        _hit(table.chunks[row], fused, dense_score, dense_rank, bm25, bm25_rank, row)
        for row in _best_per_document(table, fused, k)
    ]


def _best_per_document(table: ChunkTable, fused: np.ndarray, k: int) -> np.ndarray:
    rows = np.flatnonzero(np.isfinite(fused))
    order = rows[np.argsort(-fused[rows], kind="stable")]
    # np.unique gives each document's first (so best) position in the ordered rows.
    first = np.unique(table.doc_of[order], return_index=True)[1]
    return order[np.sort(first)][:k]


def _hit(chunk, fused, dense_score, dense_rank, bm25, bm25_rank, row) -> Hit:
    return Hit(
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        heading_path=chunk.heading_path,
        url=chunk.url,
        text=chunk.text,
        version=chunk.version,
        score=float(fused[row]),
        dense_score=None if np.isnan(dense_score[row]) else float(dense_score[row]),
        bm25_score=None if bm25 is None else float(bm25[row]),
        dense_rank=int(dense_rank[row]) or None,
        bm25_rank=int(bm25_rank[row]) or None,
    )
