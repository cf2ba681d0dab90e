"""The Chroma collection that persists chunks, their vectors and their documents' hashes.

We use Chroma's own client rather than langchain-chroma's ``Chroma`` wrapper: the index
needs its own chunk ids, metadata-only reads of content hashes, ids-and-distances queries
with a precomputed query vector, and batched adds of vectors we computed ourselves; the
wrapper would embed on its own and return LangChain documents we would have to unpack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import chromadb
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

from retrieval.documents import Chunk


def open_collections(
    *, persist_dir: str | Path | None, chroma_url: str, name: str
) -> tuple[Collection, Collection]:
    """The cosine-space collections of the chunks and of their sentences (``sentences``): on a
    Chroma server, in a folder, or in memory."""
    # A fresh Settings each time: chromadb's client constructors write into the one they get,
    # so a shared instance would turn the next PersistentClient into an HTTP client.
    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        client = chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=settings,
        )
    elif persist_dir is not None:
        Path(persist_dir).mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(persist_dir), settings=settings)
    else:
        client = chromadb.EphemeralClient(settings=settings)
    # Chroma wants 3+ characters in a name; the suffix also keeps "kb" from clashing with
    # anything else someone keeps on a shared server.
    chunks, sentences = (
        client.get_or_create_collection(
            f"{name}-{kind}", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        for kind in ("chunks", "sentences")
    )
    return chunks, sentences


# Stored with every chunk. A document indexed with an older layout (before sentence vectors
# were stored: no mark) is indexed again by the next sync.
LAYOUT = 2


def chunk_metadata(chunk: Chunk, *, content_hash: str, chunk_count: int) -> dict:
    # Every chunk repeats its document's hash and chunk count, so one metadata read tells
    # which documents changed and which were left half-written by an interrupted sync.
    return {
        "layout": LAYOUT,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "heading_path": json.dumps(list(chunk.heading_path)),
        "url": chunk.url,
        "version": chunk.version,
        "position": chunk.position,
        "content_hash": content_hash,
        "chunk_count": chunk_count,
    }


def chunk_from_record(chunk_id: str, text: str, meta: Mapping) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta["title"]),
        heading_path=tuple(json.loads(str(meta["heading_path"]))),
        url=str(meta["url"]),
        text=text,
        version=int(meta["version"]),
        position=int(meta["position"]),
    )
