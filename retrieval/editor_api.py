"""The editor's JSON API under ``/api/kb``: everything the pages do, for scripts.

Sign in as an editor (the session cookie) and send the ``X-CSRF-Token`` header on writes.
"""

# No `from __future__ import annotations`: FastAPI must see the route-local Annotated aliases
# (Editor, Text) as objects, not as strings it would look up in the module's globals.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi import Path as FastPath
from starlette.concurrency import run_in_threadpool

from retrieval import library
from retrieval.editor_deps import Kb, found, read_files
from retrieval.preview import render_markdown
from retrieval.schemas import (
    DOC_ID_PATTERN,
    MAX_VERSION,
    BatchResult,
    DiffPublic,
    DocumentCreate,
    DocumentDetail,
    DocumentPublic,
    DocumentUpdate,
    ImportRequest,
    IndexReport,
    PreviewPublic,
    PreviewRequest,
    QuestionReport,
    QuestionRequest,
    SaveResult,
    VersionDetail,
    VersionPublic,
)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such document or version"}}


def make_api_router(kb: Kb, require_editor: Callable[..., Any]) -> APIRouter:
    router = APIRouter(prefix="/api/kb", tags=["knowledge base"], responses=_NOT_FOUND)
    Editor = Annotated[Any, Depends(require_editor)]
    NewId = Annotated[str, FastPath(pattern=DOC_ID_PATTERN)]
    Version = Annotated[int, Query(ge=1, le=MAX_VERSION)]
    VersionPath = Annotated[int, FastPath(ge=1, le=MAX_VERSION)]

    @router.get("/documents", response_model=list[DocumentPublic])
    def list_documents(
        _: Editor,
        search: str = "",
        tag: str = "",
        deleted: bool | None = False,
        index_state: str = "",
        updated_since: datetime | None = None,
        sort: str = "updated",
    ):
        """Documents by title or id, tag, index state and last update; ``deleted`` omitted
        lists the live ones. ``sort``: updated, title, version or chunks."""
        with kb.session() as session:
            return library.list_documents(
                session=session,
                search=search,
                tag=tag,
                deleted=deleted,
                index_state=index_state,
                updated_since=updated_since,
                sort=sort,
            )

    @router.post("/documents", response_model=SaveResult, status_code=status.HTTP_201_CREATED)
    def create_document(body: DocumentCreate, staff: Editor):
        with kb.session() as session:
            live = library.is_live(session=session, doc_id=body.doc_id)
        if live:
            raise HTTPException(409, f"{body.doc_id} exists; PUT a new version instead")
        return kb.save(body.to_document(body.doc_id), author=staff.email)

    @router.get("/documents/{doc_id}", response_model=DocumentDetail)
    def read_document(doc_id: str, _: Editor):
        with kb.session() as session, found():
            row = library.get_row(session=session, doc_id=doc_id)
            doc = library.get_document(session=session, doc_id=doc_id)
            return DocumentDetail(**DocumentPublic.model_validate(row).model_dump(), body=doc.body)

    @router.put("/documents/{doc_id}", response_model=SaveResult)
    def save_document(doc_id: NewId, body: DocumentUpdate, staff: Editor):
        """Create or replace the text; a new version only if something changed."""
        with found():
            return kb.save(
                body.to_document(doc_id), author=staff.email, base_version=body.base_version
            )

    @router.delete("/documents/{doc_id}", response_model=DocumentPublic)
    def delete_document(doc_id: str, _: Editor):
        with found():
            kb.publisher().delete(doc_id)
        with kb.session() as session:
            return library.get_row(session=session, doc_id=doc_id)

    @router.post("/documents/{doc_id}/restore", response_model=SaveResult)
    def restore_document(doc_id: str, _: Editor):
        with found():
            return kb.result(kb.publisher().restore(doc_id))

    @router.get("/documents/{doc_id}/versions", response_model=list[VersionPublic])
    def list_versions(doc_id: str, _: Editor):
        with kb.session() as session, found():
            return library.versions(session=session, doc_id=doc_id)

    @router.get("/documents/{doc_id}/versions/{version}", response_model=VersionDetail)
    def read_version(doc_id: str, version: VersionPath, _: Editor):
        with kb.session() as session, found():
            return library.get_version(session=session, doc_id=doc_id, version=version)

    @router.post("/documents/{doc_id}/versions/{version}/restore", response_model=SaveResult)
    def restore_version(doc_id: str, version: VersionPath, staff: Editor):
        """Make an earlier text current again, as a new version."""
        with found():
            return kb.result(kb.publisher().restore_version(doc_id, version, author=staff.email))

    @router.get("/documents/{doc_id}/diff", response_model=DiffPublic)
    def diff_versions(doc_id: str, a: Version, b: Version, _: Editor):
        with kb.session() as session, found():
            old = library.get_document(session=session, doc_id=doc_id, version=a)
            new = library.get_document(session=session, doc_id=doc_id, version=b)
        return DiffPublic(doc_id=doc_id, a=a, b=b, unified=library.diff(old, new))

    @router.post(
        "/uploads",
        response_model=BatchResult,
        dependencies=[Depends(kb.check_length)],
        openapi_extra=_UPLOAD_SPEC,
    )
    async def upload(request: Request, staff: Editor):
        """Files (field ``files``, repeatable): .md .html .txt .pdf or a zip of them. All or
        nothing: if any file is unreadable, none is saved and 422 lists why."""
        result = await kb.upload(await read_files(request, kb.limits), author=staff.email)
        if result.problems:
            raise HTTPException(422, result.model_dump()["problems"])
        return result

    @router.post("/imports", response_model=BatchResult)
    async def import_url(body: ImportRequest, staff: Editor):
        """Fetch a page (or every page of a sitemap) over HTTP and save it."""
        result = await kb.fetch(body, author=staff.email)
        if result.problems and not result.saved:
            raise HTTPException(422, result.model_dump()["problems"])
        return result

    @router.post("/preview", response_model=PreviewPublic)
    def preview(body: PreviewRequest, _: Editor):
        return PreviewPublic(html=render_markdown(body.markdown))

    @router.post("/test", response_model=QuestionReport)
    async def test_question(body: QuestionRequest, _: Editor):
        """What the widget would do with this question, and why."""
        return await kb.ask(body.question)

    @router.post("/reindex", response_model=IndexReport)
    async def reindex(_: Editor):
        """Bring the index in step with the stored documents."""
        return IndexReport.of(await run_in_threadpool(kb.publisher().reindex))

    return router


_UPLOAD_SPEC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "required": ["files"],
                }
            }
        },
    }
}
