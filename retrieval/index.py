"""The knowledge index: chunks in Chroma, kept in step with the documents by content hash."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.chunking import chunk_document
from retrieval.documents import Chunk, Document, Hit
from retrieval.search import CANDIDATES, MODES, ChunkTable, rank
from retrieval.sentences import SentenceVectors, document_sentences
from retrieval.store import LAYOUT, chunk_from_record, chunk_metadata, open_collections

Progress = Callable[[int, int], None]  # (texts embedded so far, texts to embed)

# Chunks per embedding call: large calls keep the model busy (it sorts each call by length to
# pad less), while still reporting progress every few seconds on a CPU.
EMBED_BATCH = 512
# Ids per Chroma write: well under its limit (about 5,000 with the embedded SQLite).
WRITE_BATCH = 1000


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    sentences_embedded: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)


class KnowledgeIndex:
    """Searchable chunks of the knowledge base. Thread-safe: writes are serialised and
    searches read an immutable snapshot that a write swaps in when it is done."""

    def __init__(
        self,
        *,
        embeddings: Embeddings,
        persist_dir: str | Path | None = None,
        chroma_url: str = "",
        collection: str = "kb",
    ) -> None:
        self.embeddings = embeddings
        self._collection, sentences = open_collections(
            persist_dir=persist_dir, chroma_url=chroma_url, name=collection
        )
        self.sentences = SentenceVectors(sentences)
        # Locally the chunk vectors are also held in memory and searched with one matrix-vector
        # product (~0.1 ms for thousands of chunks, against ~10 ms for a Chroma query); Chroma
        # stays the durable store. A Chroma server is the path for collections too big to hold:
        # there Chroma answers the dense query.
        self._in_memory = not chroma_url
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Re-read the chunks from Chroma (another process may have written to a server)."""
        with self._lock:
            include = ["documents", "metadatas"] + (["embeddings"] if self._in_memory else [])
            records = self._collection.get(include=include)
            chunks: list[Chunk] = []
            self._hashes: dict[str, str] = {}
            expected: dict[str, int] = {}
            for chunk_id, text, meta in zip(
                records["ids"], records["documents"] or [], records["metadatas"] or [], strict=True
            ):
                chunks.append(chunk_from_record(chunk_id, text or "", meta))
                self._hashes[meta["doc_id"]] = str(meta["content_hash"])
                expected[meta["doc_id"]] = int(meta["chunk_count"])
            # A document left half-written by an interrupted sync has no trustworthy hash.
            found = Counter(chunk.doc_id for chunk in chunks)
            for doc_id, count in expected.items():
                if found[doc_id] != count:
                    self._hashes[doc_id] = ""
            for meta in records["metadatas"] or []:
                if meta.get("layout") != LAYOUT:
                    self._hashes[meta["doc_id"]] = ""
            vectors = _unit(records.get("embeddings")) if self._in_memory else None
            self._table = _table(chunks, vectors)

    @property
    def doc_ids(self) -> set[str]:
        return set(self._hashes)

    def __len__(self) -> int:
        """The number of indexed chunks."""
        return len(self._table)

    def sync(
        self,
        docs: Iterable[Document],
        *,
        delete_missing: bool = True,
        progress: Progress | None = None,
    ) -> SyncReport:
        """Make the index hold exactly ``docs``: embed only new and changed documents and,
        with ``delete_missing``, remove the chunks of documents no longer given."""
        docs = {doc.doc_id: doc for doc in docs}
        with self._lock:
            gone = set(self._hashes) - set(docs) if delete_missing else set()
            return self._apply(list(docs.values()), gone, progress)

    def upsert(self, doc: Document) -> SyncReport:
        """Add or replace one document; re-embeds nothing when its content is unchanged."""
        with self._lock:
            return self._apply([doc], set(), None)

    def delete(self, doc_id: str) -> SyncReport:
        with self._lock:
            return self._apply([], {doc_id} & set(self._hashes), None)

    def search(self, query: str, *, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        vector = None if mode == "bm25" else self.embeddings.embed_query(query)
        return self.search_with_vector(query, vector, k=k, mode=mode)

    def search_with_vector(
        self,
        query: str,
        vector: Sequence[float] | None,
        *,
        k: int = 5,
        mode: str = "hybrid",
        per_doc: int = 1,
    ) -> list[Hit]:
        """Search with a query vector the caller already computed (the engine embeds once);
        ``per_doc`` as in ``rank``."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        table = self._table
        if not len(table):
            return []
        dense = bm25 = None
        if mode != "bm25":
            if vector is None:
                raise ValueError(f"mode {mode!r} needs a query vector")
            n = min(CANDIDATES, len(table))
            dense = table.dense(vector, n) if self._in_memory else self._query_dense(vector, n)
        if mode != "dense":
            bm25 = table.lexical.scores(query)
        return rank(table, dense=dense, bm25=bm25, k=k, per_doc=per_doc)

    def _query_dense(self, vector: Sequence[float], n: int) -> list[tuple[str, float]]:
        # Ids and distances only: texts and metadata come from the in-memory table.
        result = self._collection.query(
            query_embeddings=[list(vector)], n_results=n, include=["distances"]
        )
        distances = result["distances"][0] if result["distances"] else []
        return [(cid, 1.0 - d) for cid, d in zip(result["ids"][0], distances, strict=True)]

    def _apply(self, docs: list[Document], gone: set[str], progress: Progress | None) -> SyncReport:
        report = SyncReport(deleted=len(gone))
        changed = [doc for doc in docs if self._hashes.get(doc.doc_id) != doc.content_hash]
        report.unchanged = len(docs) - len(changed)
        for doc in changed:
            if doc.doc_id in self._hashes:
                report.updated += 1
            else:
                report.added += 1
        if not changed and not gone:
            return report
        new_chunks = {doc.doc_id: chunk_document(doc) for doc in changed}
        flat = [chunk for chunks in new_chunks.values() for chunk in chunks]
        sentences = {doc_id: document_sentences(chunks) for doc_id, chunks in new_chunks.items()}
        distinct = list(dict.fromkeys(s for texts in sentences.values() for s in texts))
        # Embed before touching the store: a failing model leaves the old index intact.
        embedded = self._embed([c.embed_text for c in flat] + distinct, progress)
        vectors = embedded[: len(flat)]
        replaced = gone | set(new_chunks)
        stale = [c.chunk_id for c in self._table.chunks if c.doc_id in replaced]
        for start in range(0, len(stale), WRITE_BATCH):
            self._collection.delete(ids=stale[start : start + WRITE_BATCH])
        # Before the chunks: a sync cut short here leaves its documents half-written, so the
        # next one indexes them again, sentences included.
        sentence_vectors = dict(zip(distinct, embedded[len(flat) :], strict=True))
        self.sentences.replace(replaced, sentences, sentence_vectors)
        hashes = {doc.doc_id: doc.content_hash for doc in changed}
        for start in range(0, len(flat), WRITE_BATCH):
            batch = flat[start : start + WRITE_BATCH]
            # upsert, not add: on a shared server another process may have written these ids.
            self._collection.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=vectors[start : start + WRITE_BATCH],
                documents=[c.text for c in batch],
                metadatas=[
                    chunk_metadata(
                        c, content_hash=hashes[c.doc_id], chunk_count=len(new_chunks[c.doc_id])
                    )
                    for c in batch
                ],
            )
        report.chunks_embedded, report.chunks_deleted = len(flat), len(stale)
        report.sentences_embedded = len(distinct)
        for doc_id in gone:
            self._hashes.pop(doc_id, None)
        self._hashes.update(hashes)
        keep = [row for row, c in enumerate(self._table.chunks) if c.doc_id not in replaced]
        kept = [self._table.chunks[row] for row in keep]
        matrix = None
        if self._table.vectors is not None:
            parts = [m for m in (self._table.vectors[keep], self._stored_vectors(flat)) if len(m)]
            matrix = np.concatenate(parts) if parts else _unit(None)
        self._table = _table(kept + flat, matrix)
        return report

    def _stored_vectors(self, chunks: list[Chunk]) -> np.ndarray:
        # Read back rather than keep what was written: Chroma stores them a hair differently
        # (last float32 bits), and a search must rank the same before and after a restart.
        rows: dict[str, np.ndarray] = {}
        for start in range(0, len(chunks), WRITE_BATCH):
            ids = [c.chunk_id for c in chunks[start : start + WRITE_BATCH]]
            records = self._collection.get(ids=ids, include=["embeddings"])
            rows.update(zip(records["ids"], records["embeddings"], strict=True))
        return _unit([rows[c.chunk_id] for c in chunks])

    def _embed(self, texts: list[str], progress: Progress | None) -> list[list[float]]:
        # Sorting by length puts similar lengths in one call, so batches pad less.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        if progress:
            progress(0, len(texts))
        for start in range(0, len(order), EMBED_BATCH):
            rows = order[start : start + EMBED_BATCH]
            embedded = self.embeddings.embed_documents([texts[i] for i in rows])
            for i, vector in zip(rows, embedded, strict=True):
                vectors[i] = vector
            if progress:
                progress(min(start + EMBED_BATCH, len(order)), len(texts))
        return vectors


def _table(chunks: list[Chunk], vectors: np.ndarray | None) -> ChunkTable:
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].doc_id, chunks[i].position))
    return ChunkTable([chunks[i] for i in order], None if vectors is None else vectors[order])


def _unit(rows) -> np.ndarray:
    """Rows as a float32 matrix of unit vectors (a cosine is then a dot product): Chroma's
    cosine space normalises too, and not every embedding server returns unit vectors."""
    if rows is None or not len(rows):
        return np.zeros((0, 0), dtype=np.float32)
    matrix = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
