"""Indexing throughput against the raw encode rate of the same texts: the chunks, and the
documents' sentences that the index embeds for the extractive answer.

usage: python -m evals.bench_index DOCS_DIR [DOCS_DIR ...]

The index should spend its time in the model: chunking, Chroma writes and the BM25 rebuild
together should cost under a tenth of the encode time (throughput >= 90 % of raw encode).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from retrieval.chunking import chunk_document
from retrieval.embeddings import LocalEmbeddings
from retrieval.index import KnowledgeIndex
from retrieval.loaders import load_folder
from retrieval.sentences import document_sentences

ROUNDS = 2  # best of: other processes on a shared 2-core machine add noise to single runs


def measure_indexing(docs_dir: str | Path, *, embeddings: LocalEmbeddings | None = None) -> dict:
    docs, errors = load_folder(docs_dir)
    chunks = [chunk_document(doc) for doc in docs]
    texts = [chunk.embed_text for doc_chunks in chunks for chunk in doc_chunks]
    sentences = dict.fromkeys(s for doc_chunks in chunks for s in document_sentences(doc_chunks))
    n_chunks = len(texts)
    texts += list(sentences)
    embeddings = embeddings or LocalEmbeddings()
    embeddings.encode(texts[:8])  # first-call setup stays out of both timings
    encode_s = index_s = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        embeddings.encode(texts)
        encode_s = min(encode_s, time.perf_counter() - started)
        with tempfile.TemporaryDirectory(prefix="allhours-bench-") as folder:
            started = time.perf_counter()
            index = KnowledgeIndex(embeddings=embeddings, persist_dir=folder)
            index.sync(docs)
            index_s = min(index_s, time.perf_counter() - started)
    return {
        "docs_dir": str(docs_dir),
        "documents": len(docs),
        "chunks": n_chunks,
        "sentences": len(sentences),
        "encode_texts_per_s": len(texts) / encode_s,
        "index_texts_per_s": len(texts) / index_s,
        "index_vs_encode": encode_s / index_s,
    }


def main(argv: list[str]) -> None:
    embeddings = LocalEmbeddings()
    for docs_dir in argv:
        figures = measure_indexing(docs_dir, embeddings=embeddings)
        print(
            f"{figures['docs_dir']}: {figures['documents']} documents, {figures['chunks']} chunks, "
            f"{figures['sentences']} sentences; "
            f"encode {figures['encode_texts_per_s']:.1f} texts/s, "
            f"index {figures['index_texts_per_s']:.1f} texts/s "
            f"({figures['index_vs_encode']:.0%} of encode)"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["kb_docs"])
