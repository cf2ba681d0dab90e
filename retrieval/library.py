"""Document-store helpers (keyword-only session): save, delete, restore, list, versions, diff.

A save writes a new version only when the content hash changed, so re-importing the same
folder or re-saving an unchanged form is free and the history stays meaningful.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from retrieval.documents import Document
from retrieval.loaders import LoadError, load_folder
from retrieval.models import KbDocument, KbDocumentVersion

SORTS = {
    "updated": KbDocument.updated_at.desc(),
    "title": func.lower(KbDocument.title),
    "version": KbDocument.version.desc(),
    "chunks": KbDocument.chunk_count.desc(),
}


_EMPTY_HEADER = '<th class="diff_next"><br /></th>'


class NotFound(LookupError):
    """No such document or version."""


class Conflict(Exception):
    """The document changed since the author loaded it."""


@dataclass(frozen=True)
class Saved:
    doc: Document  # the current version, ready to index
    changed: bool  # a new version was written (or a deleted document came back)


def save_document(
    *, session: Session, doc: Document, author: str, base_version: int | None = None
) -> Saved:
    """Store ``doc`` as the next version of ``doc.doc_id`` unless its content is unchanged.

    ``base_version`` is the version the author started from (0: a new document); if another
    save came first, ``Conflict`` is raised instead of silently overwriting it.
    """
    # FOR UPDATE (PostgreSQL): two saves of one document take version numbers in turn.
    row = session.get(KbDocument, doc.doc_id, with_for_update=True)
    current = 0 if row is None else row.version
    if base_version is not None and base_version != current:
        raise Conflict(
            f"{doc.doc_id} was saved as version {current} after you opened version "
            f"{base_version}; reload it and apply your change again"
        )
    if row is None:
        row = KbDocument(doc_id=doc.doc_id, version=0, chunk_count=0)
        session.add(row)
    elif _current(session, row).content_hash == doc.content_hash:
        revived = row.deleted
        if revived:
            row.deleted, row.index_state = False, "pending"
        return Saved(_document(_current(session, row)), changed=revived)
    version = row.version + 1
    session.add(
        KbDocumentVersion(
            doc_id=doc.doc_id,
            version=version,
            title=doc.title,
            url=doc.url,
            tags=list(doc.tags),
            format=doc.format,
            body=doc.body,
            content_hash=doc.content_hash,
            author=author,
        )
    )
    row.version, row.title, row.url, row.tags, row.format = (
        version,
        doc.title,
        doc.url,
        list(doc.tags),
        doc.format,
    )
    row.deleted, row.index_state, row.updated_at = False, "pending", datetime.now(UTC)
    session.flush()
    return Saved(replace(doc, version=version), changed=True)


def delete_document(*, session: Session, doc_id: str) -> KbDocument:
    """Hide a document from the bot; its versions stay, so it can be restored."""
    row = _row(session, doc_id)
    row.deleted, row.index_state, row.updated_at = True, "pending", datetime.now(UTC)
    return row


def index_fingerprint(*, session: Session) -> tuple[tuple[str, int, bool, str], ...]:
    """What the index should hold, as the store records it: changes with every save, delete
    and restore once its indexing is done, so another process can tell its copy is stale."""
    query = select(
        KbDocument.doc_id, KbDocument.version, KbDocument.deleted, KbDocument.index_state
    ).order_by(KbDocument.doc_id)
    return tuple(tuple(row) for row in session.execute(query))  # type: ignore[misc]


def claim_failed(*, session: Session) -> list[str]:
    """Documents whose indexing failed, each claimed by this caller alone (compare-and-set
    ``failed`` to ``pending``): with several processes, one of them retries each."""
    claimed = []
    failed = select(KbDocument.doc_id).where(KbDocument.index_state == "failed")
    for doc_id in session.scalars(failed).all():
        taken = session.execute(
            update(KbDocument)
            .where(KbDocument.doc_id == doc_id, KbDocument.index_state == "failed")
            .values(index_state="pending")
        )
        if taken.rowcount == 1:
            claimed.append(doc_id)
    return claimed


def restore_document(*, session: Session, doc_id: str) -> Document:
    """Bring a deleted document back with its current version."""
    row = _row(session, doc_id)
    row.deleted, row.index_state, row.updated_at = False, "pending", datetime.now(UTC)
    return _document(_current(session, row))


def restore_version(*, session: Session, doc_id: str, version: int, author: str) -> Saved:
    """Make an earlier text current again, as a new version (history is append-only)."""
    old = get_document(session=session, doc_id=doc_id, version=version)
    return save_document(session=session, doc=old, author=author)


def mark_indexed(*, session: Session, doc_id: str, state: str, chunk_count: int | None) -> None:
    """Record what the index holds for a document (``chunk_count`` None: unchanged)."""
    row = _row(session, doc_id)
    row.index_state = state
    if chunk_count is not None:
        row.chunk_count = chunk_count


def get_document(*, session: Session, doc_id: str, version: int | None = None) -> Document:
    """A stored version of a document, by default the current one."""
    version = version or _row(session, doc_id).version
    return _document(get_version(session=session, doc_id=doc_id, version=version))


def get_version(*, session: Session, doc_id: str, version: int) -> KbDocumentVersion:
    stored = session.scalar(
        select(KbDocumentVersion).where(
            KbDocumentVersion.doc_id == doc_id, KbDocumentVersion.version == version
        )
    )
    if stored is None:
        raise NotFound(f"{doc_id} has no version {version}")
    return stored


def is_live(*, session: Session, doc_id: str) -> bool:
    """The document exists and is not deleted."""
    row = session.get(KbDocument, doc_id)
    return row is not None and not row.deleted


def get_row(*, session: Session, doc_id: str) -> KbDocument:
    return _row(session, doc_id)


def list_documents(
    *,
    session: Session,
    search: str = "",
    tag: str = "",
    deleted: bool | None = False,
    index_state: str = "",
    updated_since: datetime | None = None,
    sort: str = "updated",
    limit: int = 500,
) -> list[KbDocument]:
    """Documents matching a title/id search and filters; ``deleted=None`` lists both kinds."""
    query = select(KbDocument)
    if updated_since is not None:
        query = query.where(KbDocument.updated_at >= updated_since)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(func.lower(KbDocument.title).like(pattern), KbDocument.doc_id.like(pattern))
        )
    if deleted is not None:
        query = query.where(KbDocument.deleted == deleted)
    if index_state:
        query = query.where(KbDocument.index_state == index_state)
    rows = session.scalars(query.order_by(SORTS.get(sort, SORTS["updated"]))).all()
    # Tags are a JSON list, which SQLite and PostgreSQL query differently: filter here.
    wanted = tag.strip().lower()
    return [r for r in rows if not wanted or wanted in (t.lower() for t in r.tags)][:limit]


def all_tags(*, session: Session) -> list[str]:
    rows = session.scalars(select(KbDocument.tags).where(KbDocument.deleted.is_(False)))
    return sorted({tag for tags in rows for tag in tags}, key=str.lower)


def current_documents(*, session: Session) -> list[Document]:
    """The current version of every live document: what the index must hold."""
    query = (
        select(KbDocumentVersion)
        .join(KbDocument, KbDocument.doc_id == KbDocumentVersion.doc_id)
        .where(KbDocument.deleted.is_(False), KbDocumentVersion.version == KbDocument.version)
        .order_by(KbDocument.doc_id)
    )
    return [_document(v) for v in session.scalars(query)]


def versions(*, session: Session, doc_id: str) -> list[KbDocumentVersion]:
    _row(session, doc_id)
    query = select(KbDocumentVersion).where(KbDocumentVersion.doc_id == doc_id)
    return list(session.scalars(query.order_by(KbDocumentVersion.version.desc())))


def has_documents(*, session: Session) -> bool:
    return session.scalar(select(KbDocument.doc_id).limit(1)) is not None


def import_folder(
    *, session: Session, kb_dir: str | Path, author: str = "import"
) -> tuple[list[Saved], list[LoadError]]:
    """Save every readable file under ``kb_dir``; broken files are reported, not fatal.

    The folder is the install's own content, so it is loaded as is (uploads and HTTP imports
    are the untrusted paths that go through ``sanitize``)."""
    docs, errors = load_folder(kb_dir)
    return [save_document(session=session, doc=d, author=author) for d in docs], errors


def diff(a: Document, b: Document, *, html: bool = False) -> str:
    """What changed from ``a`` to ``b``: a unified diff, or an HTML side-by-side table.

    difflib's HTML table escapes the text itself (& < >), so it is safe to insert as is.
    """
    old, new = _diff_lines(a), _diff_lines(b)
    label_a, label_b = f"{a.doc_id} v{a.version}", f"{b.doc_id} v{b.version}"
    if html:
        table = difflib.HtmlDiff(wrapcolumn=80)
        markup = table.make_table(old, new, label_a, label_b, context=True, numlines=3)
        # difflib leaves its "jump to change" header cells empty; screen readers want a name.
        return markup.replace(
            _EMPTY_HEADER, '<th class="diff_next"><span class="sr-only">Jump</span></th>'
        )
    return "".join(difflib.unified_diff(old, new, label_a, label_b))


def _diff_lines(doc: Document) -> list[str]:
    head = [f"title: {doc.title}\n", f"url: {doc.url}\n", f"tags: {', '.join(doc.tags)}\n", "\n"]
    return head + [line + "\n" for line in doc.body.splitlines()]


def _row(session: Session, doc_id: str) -> KbDocument:
    row = session.get(KbDocument, doc_id)
    if row is None:
        raise NotFound(f"no document {doc_id!r}")
    return row


def _current(session: Session, row: KbDocument) -> KbDocumentVersion:
    return get_version(session=session, doc_id=row.doc_id, version=row.version)


def _document(v: KbDocumentVersion) -> Document:
    return Document(
        doc_id=v.doc_id,
        title=v.title,
        body=v.body,
        url=v.url,
        tags=tuple(v.tags),
        format=v.format,
        version=v.version,
    )
