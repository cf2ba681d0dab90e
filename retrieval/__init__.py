"""Knowledge-base documents: loading, chunking, embedding, indexing and searching them.

Never imports ``bot``, ``handoff`` or ``evals``. See docs/internals.md for the contracts.
"""

from retrieval.chunking import chunk_document
from retrieval.documents import Chunk, Document, Hit
from retrieval.embeddings import make_embeddings
from retrieval.index import KnowledgeIndex, SyncReport
from retrieval.loaders import LoadError, load_bytes, load_file, load_folder

__all__ = [
    "Chunk",
    "Document",
    "Hit",
    "KnowledgeIndex",
    "LoadError",
    "SyncReport",
    "chunk_document",
    "load_bytes",
    "load_file",
    "load_folder",
    "make_embeddings",
]
