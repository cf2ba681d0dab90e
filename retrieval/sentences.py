"""Sentences of a passage, and their embeddings stored at indexing time.

The extractive answer starts from the passage sentence closest to the question. Embedding a
section's sentences then was about 40 % of a loaded server's CPU (docs/benchmarks.md), so the
index embeds them once, when their document is indexed, and keeps them in a Chroma collection
beside the chunks: every process on a shared Chroma server reads the same vectors.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from chromadb.api.models.Collection import Collection

from retrieval.documents import Chunk
from retrieval.sections import merge_chunks

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+(?=\S)")
_BULLET = re.compile(r"^(?:[-*+]\s+|\d+[.)]\s+)")
# Ids per Chroma read or write: well under its limit (about 5,000 with the embedded SQLite).
_BATCH = 1000


@dataclass(frozen=True)
class Sentence:
    text: str  # verbatim, without the list marker
    line: int  # which line of the passage it is on
    bullet: str  # the list marker ("- ", "2. ") when it opens a list item, else ""


@lru_cache(maxsize=4096)
def passage_sentences(text: str) -> tuple[Sentence, ...]:
    """Sentences of a Markdown-ish passage, each a verbatim substring of ``text``.

    Headings, table rows and code fences are not sentences.
    """
    sentences: list[Sentence] = []
    in_code = False
    for number, raw in enumerate(text.splitlines()):
        line = raw.strip()
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line or line.startswith(("#", "|", ">")):
            continue
        bullet = _BULLET.match(line)
        marker = bullet.group(0) if bullet else ""
        parts = [part.strip() for part in _SENTENCE_END.split(line[len(marker) :])]
        for i, part in enumerate(p for p in parts if p):
            sentences.append(Sentence(part, number, marker if i == 0 else ""))
    return tuple(sentences)


def split_sentences(text: str) -> list[str]:
    return [sentence.text for sentence in passage_sentences(text)]


def document_sentences(chunks: Sequence[Chunk]) -> list[str]:
    """Every sentence a passage of this document can show (``sections.passage_text``): those of
    each whole section, and those of each chunk, for a passage cut to a window of chunks starts
    and ends where a chunk does, maybe inside a sentence. In order, each once."""
    found: dict[str, None] = {}
    for _, run in itertools.groupby(chunks, key=lambda c: c.heading_path):
        texts = [c.text for c in run]
        for text in (merge_chunks(texts), *texts):
            found.update(dict.fromkeys(split_sentences(text)))
    return list(found)


def sentence_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class SentenceVectors:
    """The sentence vectors of the indexed documents, one record per (document, sentence)."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    def replace(
        self,
        doc_ids: Iterable[str],
        sentences: Mapping[str, Sequence[str]],
        vectors: Mapping[str, Sequence[float]],
    ) -> None:
        """Drop the sentences of ``doc_ids``, then store ``sentences`` (doc id -> its
        sentences) with their ``vectors`` (sentence -> vector)."""
        doc_ids = list(doc_ids)
        for start in range(0, len(doc_ids), _BATCH):
            self._collection.delete(where={"doc_id": {"$in": doc_ids[start : start + _BATCH]}})
        rows = [(doc_id, text) for doc_id, texts in sentences.items() for text in texts]
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            keys = [sentence_key(text) for _, text in batch]
            # upsert, not add: on a shared server another process may have written these ids.
            self._collection.upsert(
                ids=[f"{doc_id}|{key}" for (doc_id, _), key in zip(batch, keys, strict=True)],
                embeddings=[list(vectors[text]) for _, text in batch],
                metadatas=[
                    {"doc_id": doc_id, "key": key}
                    for (doc_id, _), key in zip(batch, keys, strict=True)
                ],
            )

    def lookup(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vector of each of ``texts`` that an indexed document holds."""
        by_key = {sentence_key(text): text for text in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(by_key)
        for start in range(0, len(keys), _BATCH):
            records = self._collection.get(
                where={"key": {"$in": keys[start : start + _BATCH]}},
                include=["embeddings", "metadatas"],
            )
            rows = records["embeddings"] if records["embeddings"] is not None else []
            for meta, vector in zip(records["metadatas"] or [], rows, strict=True):
                found[by_key[str(meta["key"])]] = np.asarray(vector, dtype=np.float32)
        return found
