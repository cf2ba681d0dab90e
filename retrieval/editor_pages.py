"""The editor's HTML pages under ``/kb``: list, edit with preview, history and diff, upload and
import, and "Test a question". Forms post back with the session's CSRF token."""

# No `from __future__ import annotations`: FastAPI must see the route-local Annotated aliases
# (Editor, Text) as objects, not as strings it would look up in the module's globals.

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from retrieval import library
from retrieval.editor_deps import STATIC_DIR, Kb, found, read_files
from retrieval.preview import render_markdown
from retrieval.schemas import (
    MAX_VERSION,
    BatchResult,
    DocumentCreate,
    DocumentUpdate,
    ImportRequest,
    Problem,
    SaveResult,
)

STATES = ("indexed", "pending", "failed", "removed")
_STATIC = {"editor.js": "text/javascript", "editor.css": "text/css"}


def make_pages_router(
    kb: Kb, require_editor: Callable[..., Any], templates: Jinja2Templates
) -> APIRouter:
    router = APIRouter(prefix="/kb", include_in_schema=False)
    Editor = Annotated[Any, Depends(require_editor)]
    VersionQuery = Annotated[int, Query(ge=1, le=MAX_VERSION)]
    VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION)]
    Text = Annotated[str, Form()]

    def page(request: Request, name: str, staff: Any, status: int = 200, **context: Any):
        context |= {"staff": staff, "max_upload_bytes": kb.limits.max_bytes}
        return templates.TemplateResponse(request, name, context, status_code=status)

    def edit_form(request: Request, staff: Any, doc_id: str, fields: dict, **extra: Any):
        with kb.session() as session:
            row = library.get_row(session=session, doc_id=doc_id) if doc_id else None
        preview = render_markdown(fields.get("body", ""))
        return page(
            request, "kb_edit.html", staff, row=row, fields=fields, preview=preview, **extra
        )

    @router.get("", response_class=HTMLResponse)
    def list_page(
        request: Request,
        staff: Editor,
        search: str = "",
        tag: str = "",
        state: str = "",
        sort: str = "updated",
        deleted: bool = False,
        since: date | None = None,
    ):
        start = None if since is None else datetime.combine(since, time.min, UTC)
        with kb.session() as session:
            rows = library.list_documents(
                session=session,
                search=search,
                tag=tag,
                deleted=deleted,
                index_state=state,
                updated_since=start,
                sort=sort,
            )
            tags = library.all_tags(session=session)
        filters = {"search": search, "tag": tag, "state": state, "sort": sort, "deleted": deleted}
        filters["since"] = since.isoformat() if since else ""
        return page(
            request,
            "kb_list.html",
            staff,
            rows=rows,
            tags=tags,
            states=STATES,
            sorts=library.SORTS,
            filters=filters,
        )

    @router.get("/new", response_class=HTMLResponse)
    def new_page(request: Request, staff: Editor):
        return edit_form(request, staff, "", {"body": "# Title\n\n"})

    @router.post("/draft", response_class=HTMLResponse)
    async def draft(request: Request, staff: Editor, question: Annotated[list[str], Form()]):
        """A new article pre-filled from the questions the bot could not answer (the app
        knows them by reference); it is only shown, the editor saves it."""
        if kb.draft_article is None:
            raise HTTPException(404, "Drafting is not set up")
        made = await kb.draft_article(question)
        fields = {"doc_id": made.doc_id, "title": made.title, "url": ""}
        fields |= {"tags": ", ".join(made.tags), "body": made.body}
        return edit_form(request, staff, "", fields, drafted=made.drafted)

    @router.post("/new", response_class=HTMLResponse)
    def create(
        request: Request,
        staff: Editor,
        doc_id: Text = "",
        title: Text = "",
        url: Text = "",
        tags: Text = "",
        body: Text = "",
    ):
        fields = {"doc_id": doc_id, "title": title, "url": url, "tags": tags, "body": body}
        try:
            form = DocumentCreate(doc_id=doc_id.strip(), **_document_fields(fields))
        except ValidationError as exc:
            return edit_form(request, staff, "", fields, errors=_messages(exc), status=422)
        with kb.session() as session:
            taken = library.is_live(session=session, doc_id=form.doc_id)
        if taken:
            errors = [f"A document with the id {form.doc_id} exists already."]
            return edit_form(request, staff, "", fields, errors=errors, status=409)
        result = kb.save(form.to_document(form.doc_id), author=staff.email)
        return _back(f"/kb/docs/{form.doc_id}", notice=_notice(result), v=result.document.version)

    @router.get("/docs/{doc_id}", response_class=HTMLResponse)
    def edit_page(request: Request, staff: Editor, doc_id: str, notice: str = "", v: int = 0):
        with kb.session() as session, found():
            doc = library.get_document(session=session, doc_id=doc_id)
        fields = {"title": doc.title, "url": doc.url, "tags": ", ".join(doc.tags), "body": doc.body}
        return edit_form(request, staff, doc_id, fields, notice=notice, notice_version=v)

    @router.post("/docs/{doc_id}", response_class=HTMLResponse)
    def save(
        request: Request,
        staff: Editor,
        doc_id: str,
        title: Text = "",
        url: Text = "",
        tags: Text = "",
        body: Text = "",
        base_version: Annotated[int | None, Form()] = None,
    ):
        fields = {"title": title, "url": url, "tags": tags, "body": body}
        with kb.session() as session, found():
            fmt = library.get_row(session=session, doc_id=doc_id).format
        try:
            form = DocumentUpdate(**_document_fields(fields))
        except ValidationError as exc:
            return edit_form(request, staff, doc_id, fields, errors=_messages(exc), status=422)
        try:
            result = kb.save(
                form.to_document(doc_id, fmt), author=staff.email, base_version=base_version
            )
        except library.Conflict as exc:
            return edit_form(request, staff, doc_id, fields, errors=[str(exc)], status=409)
        return _back(f"/kb/docs/{doc_id}", notice=_notice(result), v=result.document.version)

    @router.post("/docs/{doc_id}/delete")
    def delete(staff: Editor, doc_id: str):
        with found():
            kb.publisher().delete(doc_id)
        return _back(f"/kb/docs/{doc_id}", notice="deleted")

    @router.post("/docs/{doc_id}/restore")
    def restore(staff: Editor, doc_id: str):
        with found():
            published = kb.publisher().restore(doc_id)
        notice = "restored" if published.indexed else "unindexed"
        return _back(f"/kb/docs/{doc_id}", notice=notice, v=published.doc.version)

    @router.get("/docs/{doc_id}/history", response_class=HTMLResponse)
    def history(request: Request, staff: Editor, doc_id: str):
        with kb.session() as session, found():
            row = library.get_row(session=session, doc_id=doc_id)
            stored = library.versions(session=session, doc_id=doc_id)
        return page(request, "kb_history.html", staff, row=row, versions=stored)

    @router.get("/docs/{doc_id}/diff", response_class=HTMLResponse)
    def diff(request: Request, staff: Editor, doc_id: str, a: VersionQuery, b: VersionQuery):
        with kb.session() as session, found():
            row = library.get_row(session=session, doc_id=doc_id)
            old = library.get_document(session=session, doc_id=doc_id, version=a)
            new = library.get_document(session=session, doc_id=doc_id, version=b)
        # difflib's table escapes the text it shows, so the template inserts it as is.
        table = library.diff(old, new, html=True)
        return page(request, "kb_diff.html", staff, row=row, a=a, b=b, table=table)

    @router.post("/docs/{doc_id}/versions/{version}/restore")
    def restore_version(staff: Editor, doc_id: str, version: VersionPath):
        with found():
            published = kb.publisher().restore_version(doc_id, version, author=staff.email)
        notice = "restored" if published.indexed else "unindexed"
        return _back(f"/kb/docs/{doc_id}", notice=notice, v=published.doc.version)

    @router.get("/upload", response_class=HTMLResponse)
    def upload_page(request: Request, staff: Editor):
        return page(request, "kb_upload.html", staff, result=None)

    @router.post("/upload", response_class=HTMLResponse, dependencies=[Depends(kb.check_length)])
    async def upload(request: Request, staff: Editor):
        result = await kb.upload(await read_files(request, kb.limits), author=staff.email)
        return page(request, "kb_upload.html", staff, result=result, status=_status(result))

    @router.post("/import", response_class=HTMLResponse)
    async def import_url(request: Request, staff: Editor, url: Text = "", sitemap: Text = ""):
        try:
            wanted = ImportRequest(url=url.strip(), sitemap=bool(sitemap))
        except ValidationError as exc:
            result = BatchResult(problems=[Problem(name=url, reason=m) for m in _messages(exc)])
        else:
            result = await kb.fetch(wanted, author=staff.email)
        return page(request, "kb_upload.html", staff, result=result, status=_status(result))

    @router.get("/test", response_class=HTMLResponse)
    def test_page(request: Request, staff: Editor):
        return page(request, "kb_test.html", staff, question="", report=None)

    @router.post("/test", response_class=HTMLResponse)
    async def test_question(request: Request, staff: Editor, question: Text = ""):
        report = await kb.ask(question.strip()) if question.strip() else None
        answer = render_markdown(report.answer) if report else ""
        return page(request, "kb_test.html", staff, question=question, report=report, answer=answer)

    @router.get("/static/{name}")
    def static(name: str):
        if name not in _STATIC:
            raise HTTPException(404, "No such file")
        return FileResponse(STATIC_DIR / name, media_type=_STATIC[name])

    return router


def _document_fields(fields: dict[str, str]) -> dict[str, Any]:
    tags = [tag.strip() for tag in fields["tags"].split(",")]
    return {"title": fields["title"], "url": fields["url"], "tags": tags, "body": fields["body"]}


def _messages(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors()]


def _notice(result: SaveResult) -> str:
    if result.document.index_state == "failed":
        return "unindexed"
    return "saved" if result.changed else "unchanged"


def _status(result: BatchResult) -> int:
    return 422 if result.problems and not result.saved else 200


def _back(path: str, **query: Any) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode(query)}", status_code=303)
