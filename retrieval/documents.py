"""The values that flow through retrieval: documents, their chunks, and search hits."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One knowledge-base document, loaded from a file or an upload."""

    doc_id: str  # path relative to the KB root, without suffix, "/" -> "-"
    title: str
    body: str  # Markdown-ish text (headings as "#"): the text that gets chunked
    url: str = ""
    tags: tuple[str, ...] = ()
    format: str = "md"  # md | html | txt | pdf
    version: int = 1

    @property
    def content_hash(self) -> str:
        # JSON keeps field boundaries unambiguous ("a" + "bc" never hashes like "ab" + "c").
        payload = json.dumps([self.title, self.url, list(self.tags), self.body])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A heading-aware piece of a document, the unit that is embedded and searched."""

    chunk_id: str
    doc_id: str
    title: str
    heading_path: tuple[str, ...]
    url: str
    text: str
    version: int
    position: int  # order within the document, from 0

    @property
    def context(self) -> str:
        """Title and heading path, e.g. "Reset your password > By email"."""
        return " > ".join(part for part in (self.title, *self.heading_path) if part)

    @property
    def embed_text(self) -> str:
        """What is embedded and indexed: the context line, then the text."""
        return f"{self.context}\n\n{self.text}"


@dataclass(frozen=True)
class Hit:
    """The best chunk of one document for a query, with every score that ranked it."""

    chunk_id: str
    doc_id: str
    title: str
    heading_path: tuple[str, ...]
    url: str
    text: str
    version: int
    # The document's score the list is ordered by: in hybrid mode the chunk's fused score plus
    # a share of the document's second-best chunk; in one-retriever modes that retriever's score.
    score: float
    dense_score: float | None  # cosine similarity; None: not among the dense candidates
    bm25_score: float | None  # raw BM25 of this chunk (0: no query term); None in dense mode
    dense_rank: int | None  # 1-based rank among the dense candidates
    bm25_rank: int | None
    # The enclosing section (same document and heading path, overlaps removed, capped around
    # this chunk): what the generator reads. Scoring and confidence use ``text``.
    section: str = ""

    @property
    def passage(self) -> str:
        """The text to answer from: the section, or the chunk for a hit built without one."""
        return self.section or self.text
