"""The editor's JSON shapes (the OpenAPI spec shows them) and the "test a question" port.

``retrieval`` cannot import ``bot``: the app hands in a callable that runs a turn through the
widget's own decision path and returns an outcome shaped like ``TurnOutcome``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retrieval.documents import Document, Hit
from retrieval.index import SyncReport
from retrieval.sanitize import safe_url

DOC_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
# The largest version number a database stores (SQLite, PostgreSQL BIGINT): a larger one in a
# path or query is a 422, not an overflow in the driver.
MAX_VERSION = 2**63 - 1


class DocumentUpdate(BaseModel):
    """A full new text of a document (Markdown body)."""

    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1)
    url: str = Field(default="", max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    # The version the text was based on: a save on top of a newer version gets 409, not an
    # overwrite. Omit it to save regardless (sync scripts that own the text).
    base_version: int | None = Field(default=None, ge=0)

    @field_validator("url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if value.strip() and not safe_url(value):
            raise ValueError("the URL must be http(s):// or start with /")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(tag.strip() for tag in value if tag.strip()))

    def to_document(self, doc_id: str, fmt: str = "md") -> Document:
        return Document(
            doc_id=doc_id,
            title=self.title.strip(),
            body=self.body.strip(),
            url=self.url,
            tags=tuple(self.tags),
            format=fmt,
        )


class DocumentCreate(DocumentUpdate):
    doc_id: str = Field(pattern=DOC_ID_PATTERN)


class DocumentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    version: int
    title: str
    url: str
    tags: list[str]
    format: str
    deleted: bool
    updated_at: datetime
    chunk_count: int
    index_state: str


class DocumentDetail(DocumentPublic):
    body: str


class VersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    title: str
    url: str
    tags: list[str]
    format: str
    content_hash: str
    author: str
    created_at: datetime


class VersionDetail(VersionPublic):
    body: str


class IndexReport(BaseModel):
    """What the index did: documents added/updated/deleted/unchanged, chunks embedded/deleted."""

    added: int
    updated: int
    deleted: int
    unchanged: int
    chunks_embedded: int
    chunks_deleted: int

    @classmethod
    def of(cls, report: SyncReport) -> IndexReport:
        return cls.model_validate(report, from_attributes=True)


class SaveResult(BaseModel):
    document: DocumentPublic
    changed: bool  # False: the text was identical, no new version
    index: IndexReport


class Problem(BaseModel):
    name: str  # the file or URL
    reason: str


class BatchResult(BaseModel):
    """Uploads are all or nothing (any problem: nothing saved); sitemap pages are one by one."""

    saved: list[SaveResult] = []
    problems: list[Problem] = []


class ImportRequest(BaseModel):
    url: str = Field(min_length=1, max_length=2000)
    sitemap: bool = False  # True: import every page the sitemap lists


class DiffPublic(BaseModel):
    doc_id: str
    a: int
    b: int
    unified: str


class PreviewRequest(BaseModel):
    markdown: str = Field(max_length=1_000_000)


class PreviewPublic(BaseModel):
    html: str


class QuestionRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


class HitPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    title: str
    heading_path: list[str]
    url: str
    version: int
    text: str
    score: float
    dense_score: float | None
    bm25_score: float | None
    dense_rank: int | None
    bm25_rank: int | None


class CitationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    n: int
    doc_id: str
    title: str
    version: int


class QuestionReport(BaseModel):
    """Why the bot would answer (or hand off) as it does: everything the widget's turn used."""

    question: str
    condensed: str
    kind: str  # smalltalk | retrieval
    hits: list[HitPublic]
    signals: dict[str, float]
    confidence: float
    answer: str
    citations: list[CitationPublic]
    action: Literal["answer", "handoff", "clarify"]
    reason: str | None
    detail: str


class TurnDraft(Protocol):
    question: str
    condensed: str
    kind: str
    hits: Sequence[Hit]
    signals: dict[str, float]
    confidence: float
    answer: str
    citations: Sequence[object]


class TurnDecision(Protocol):
    action: str
    reason: str | None
    detail: str


class TurnOutcome(Protocol):
    decision: TurnDecision
    draft: TurnDraft


TestQuestion = Callable[[str], Awaitable[TurnOutcome]]


class ArticleDraft(BaseModel):
    """A new article's fields, pre-filled for an editor to review (never saved as is)."""

    doc_id: str = ""
    title: str
    tags: list[str] = []
    body: str
    drafted: bool = False  # the body was written by the LLM: review every fact


# The app's "draft an article from these unanswered questions" (references to them).
DraftArticle = Callable[[list[str]], Awaitable[ArticleDraft]]


def report_outcome(outcome: TurnOutcome) -> QuestionReport:
    draft, decision = outcome.draft, outcome.decision
    return QuestionReport(
        question=draft.question,
        condensed=draft.condensed,
        kind=draft.kind,
        hits=[HitPublic.model_validate(hit) for hit in draft.hits],
        signals=draft.signals,
        confidence=draft.confidence,
        answer=draft.answer,
        citations=[CitationPublic.model_validate(c) for c in draft.citations],
        action=str(decision.action),  # type: ignore[arg-type]
        reason=None if decision.reason is None else str(decision.reason),
        detail=decision.detail,
    )
