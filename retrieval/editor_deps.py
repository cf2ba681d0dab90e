"""What the editor's routes share: the services (as providers) and the upload limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile  # what forms hold (fastapi's is a subclass)

from retrieval import library
from retrieval.documents import Document
from retrieval.importer import FetchError, Importer
from retrieval.index import KnowledgeIndex
from retrieval.publishing import Published, Publisher
from retrieval.schemas import (
    BatchResult,
    DocumentPublic,
    DraftArticle,
    ImportRequest,
    IndexReport,
    Problem,
    QuestionReport,
    SaveResult,
    TestQuestion,
    report_outcome,
)
from retrieval.uploads import UploadLimits, read_uploads

STATIC_DIR = Path(__file__).resolve().parent / "static"
_MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and form fields around the files


@dataclass(frozen=True)
class Kb:
    """What every editor route needs."""

    sessions: Callable[[], sessionmaker[Session]]
    index: Callable[[], KnowledgeIndex]
    test_question: TestQuestion
    limits: UploadLimits
    draft_article: DraftArticle | None = None  # None: the app drafts no articles
    importer: Importer = field(default_factory=Importer)

    def publisher(self) -> Publisher:
        return Publisher(sessionmaker=self.sessions(), index=self.index())

    def session(self) -> Session:
        return self.sessions()()

    def result(self, published: Published) -> SaveResult:
        with self.session() as session:
            row = library.get_row(session=session, doc_id=published.doc.doc_id)
            document = DocumentPublic.model_validate(row)
        return SaveResult(
            document=document, changed=published.changed, index=IndexReport.of(published.report)
        )

    def save(self, doc: Document, *, author: str, base_version: int | None = None) -> SaveResult:
        return self.result(self.publisher().save(doc, author=author, base_version=base_version))

    async def upload(self, files: list[tuple[str, bytes]], *, author: str) -> BatchResult:
        """All or nothing: a batch with any unreadable file saves none of them."""
        if not files:
            return BatchResult(problems=[Problem(name="(none)", reason="no file was sent")])
        docs, errors = await run_in_threadpool(read_uploads, files, self.limits)
        if errors:
            return BatchResult(problems=[Problem(name=e.name, reason=e.reason) for e in errors])
        return BatchResult(
            saved=[await run_in_threadpool(self.save, d, author=author) for d in docs]
        )

    async def fetch(self, request: ImportRequest, *, author: str) -> BatchResult:
        """One page, or every page of a sitemap (pages that fail are listed, the rest saved)."""
        try:
            if request.sitemap:
                docs, errors = await self.importer.fetch_sitemap(request.url)
            else:
                docs, errors = [await self.importer.fetch_page(request.url)], []
        except FetchError as exc:
            docs, errors = [], [exc]
        saved = [await run_in_threadpool(self.save, doc, author=author) for doc in docs]
        return BatchResult(
            saved=saved, problems=[Problem(name=e.url, reason=e.reason) for e in errors]
        )

    async def ask(self, question: str) -> QuestionReport:
        return report_outcome(await self.test_question(question))

    def check_length(self, request: Request) -> None:
        """A dependency that runs before the body is parsed: refuse an oversized upload unread."""
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            raise HTTPException(411, "Uploads must declare their Content-Length")
        if int(length) > self.limits.max_bytes + _MULTIPART_OVERHEAD:
            raise HTTPException(
                413, f"The upload is larger than the {size_text(self.limits.max_bytes)} limit."
            )


def size_text(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


async def read_files(request: Request, limits: UploadLimits) -> list[tuple[str, bytes]]:
    """(name, content) of every file in a multipart request, each read up to just past the limit
    so that an oversized one is known to be oversized without being held whole."""
    files: list[tuple[str, bytes]] = []
    async with request.form(max_files=limits.max_files) as form:  # closes the spooled files
        for value in form.getlist("files"):
            if isinstance(value, UploadFile) and value.filename:
                files.append((value.filename, await value.read(limits.max_bytes + 1)))
    return files


@contextmanager
def found() -> Iterator[None]:
    """Turn ``library.NotFound`` into a 404 and ``library.Conflict`` into a 409."""
    try:
        yield
    except library.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except library.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
