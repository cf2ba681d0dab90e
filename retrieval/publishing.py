"""Publishing: every change to the document store, followed at once by the index.

The store commits first (it is the source of truth), then only the changed document is
re-indexed, so an edit reaches the bot as soon as its few chunks are embedded. If indexing
fails the edit is kept, marked ``failed``, and ``repair`` (which each server runs while it
follows the index, see ``retrieval.follow``) or ``reindex`` indexes it later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from retrieval import library
from retrieval.chunking import chunk_document
from retrieval.documents import Document
from retrieval.index import KnowledgeIndex, SyncReport
from retrieval.loaders import LoadError, load_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    doc: Document  # the current version
    changed: bool  # a new version was stored (or the document came back from deletion)
    report: SyncReport  # what the index did for it
    indexed: bool = True  # False: stored, but the index refused it and still has the old text


class Publisher:
    """Store-then-index operations, shared by the editor, its API, the app's start and the CLI.
    Blocking (database and embedding work): async callers run them in a thread."""

    def __init__(self, *, sessionmaker: sessionmaker[Session], index: KnowledgeIndex) -> None:
        self._sessions = sessionmaker
        self.index = index

    def save(self, doc: Document, *, author: str, base_version: int | None = None) -> Published:
        """Raises ``library.Conflict`` when ``base_version`` is no longer the current one."""
        return self._publish(
            lambda s: library.save_document(
                session=s, doc=doc, author=author, base_version=base_version
            )
        )

    def restore_version(self, doc_id: str, version: int, *, author: str) -> Published:
        return self._publish(
            lambda s: library.restore_version(
                session=s, doc_id=doc_id, version=version, author=author
            )
        )

    def restore(self, doc_id: str) -> Published:
        return self._publish(
            lambda s: library.Saved(library.restore_document(session=s, doc_id=doc_id), True)
        )

    def delete(self, doc_id: str) -> SyncReport:
        with self._session() as session:
            library.delete_document(session=session, doc_id=doc_id)
        try:
            report = self.index.delete(doc_id)
        except Exception:  # the vector store is down: the deletion is kept, repair retries it
            log.exception("removing %s from the index failed", doc_id)
            self._mark_doc(doc_id, "failed", None)
            return SyncReport()
        self._mark_doc(doc_id, "removed", 0)
        return report

    def repair(self) -> int:
        """Index again the documents whose indexing failed (the vector store was down), each
        by the one process that claims it; how many were repaired. A document that fails
        again is marked ``failed`` again for the next try."""
        with self._session() as session:
            claimed = library.claim_failed(session=session)
        for doc_id in claimed:
            with self._session() as session:
                deleted = not library.is_live(session=session, doc_id=doc_id)
                doc = None if deleted else library.get_document(session=session, doc_id=doc_id)
            if doc is None:
                self.delete(doc_id)
            else:
                self._index(doc, changed=False)
        return len(claimed)

    def import_folder(self, kb_dir: str | Path) -> tuple[list[Document], list[LoadError]]:
        """Store the files of ``kb_dir`` (the first start fills an empty store this way)."""
        with self._session() as session:
            saved, errors = library.import_folder(session=session, kb_dir=kb_dir)
        return [s.doc for s in saved], errors

    def mirror(
        self,
        kb_dir: str | Path,
        *,
        author: str = "cli",
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[SyncReport, list[LoadError]]:
        """Make the store hold exactly the files of ``kb_dir``, then the index (``allhours
        index``). A file stores a new version only if its content changed; a live document
        with no file is deleted (soft: its versions stay and the editor can restore it), unless
        its file is there but failed to load. Document counts are the store's, chunk counts
        the index's."""
        docs, errors = load_folder(kb_dir)
        unreadable = {_doc_id(kb_dir, error.name) for error in errors}
        report = SyncReport()
        with self._session() as session:
            live = {doc.doc_id for doc in library.current_documents(session=session)}
            for doc in docs:
                saved = library.save_document(session=session, doc=doc, author=author)
                if not saved.changed:
                    report.unchanged += 1
                elif doc.doc_id in live:
                    report.updated += 1
                else:
                    report.added += 1
            gone = sorted(live - {doc.doc_id for doc in docs} - unreadable)
            for doc_id in gone:
                library.delete_document(session=session, doc_id=doc_id)
        report.deleted = len(gone)
        indexed = self.reindex(progress=progress)
        report.chunks_embedded = indexed.chunks_embedded
        report.sentences_embedded = indexed.sentences_embedded
        report.chunks_deleted = indexed.chunks_deleted
        with self._session() as session:
            for doc_id in gone:
                library.mark_indexed(session=session, doc_id=doc_id, state="removed", chunk_count=0)
        return report, errors

    def start(self, kb_dir: str | Path) -> SyncReport:
        """At the app's start: fill an empty store from ``kb_dir``, then bring the index in step."""
        with self._session() as session:
            empty = not library.has_documents(session=session)
        if empty and Path(kb_dir).is_dir():
            docs, errors = self.import_folder(kb_dir)
            log.info("imported %d documents from %s", len(docs), kb_dir)
            for error in errors:
                log.warning("not imported: %s", error)
        return self.reindex()

    def reindex(
        self, *, full: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> SyncReport:
        """Make the index hold exactly the current stored versions. Only what differs is
        embedded, unless ``full``: then everything is dropped and embedded again (after a
        model change, or to rebuild an index that another tool wrote to)."""
        with self._session() as session:
            docs = library.current_documents(session=session)
        if full:
            self.index.sync([], delete_missing=True)
        report = self.index.sync(docs, delete_missing=True, progress=progress)
        with self._session() as session:
            for doc in docs:
                library.mark_indexed(
                    session=session,
                    doc_id=doc.doc_id,
                    state="indexed",
                    chunk_count=len(chunk_document(doc)),
                )
        return report

    def _publish(self, store: Callable[[Session], library.Saved]) -> Published:
        with self._session() as session:
            saved = store(session)
        return self._index(saved.doc, changed=saved.changed)

    def _index(self, doc: Document, *, changed: bool) -> Published:
        try:
            report = self.index.upsert(doc)
        except Exception:  # any embedding or vector store failure: the edit is kept, marked
            log.exception("indexing %s v%s failed", doc.doc_id, doc.version)
            self._mark(doc, "failed", None)
            return Published(doc, changed, SyncReport(), indexed=False)
        self._mark(doc, "indexed", len(chunk_document(doc)))
        return Published(doc, changed, report)

    def _mark(self, doc: Document, state: str, chunk_count: int | None) -> None:
        self._mark_doc(doc.doc_id, state, chunk_count)

    def _mark_doc(self, doc_id: str, state: str, chunk_count: int | None) -> None:
        with self._session() as session:
            library.mark_indexed(
                session=session, doc_id=doc_id, state=state, chunk_count=chunk_count
            )

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session


def _doc_id(root: str | Path, name: str) -> str:
    """The id a file under ``root`` would have (as ``loaders.load_file`` gives it)."""
    try:
        relative = Path(name).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return ""
    return relative.with_suffix("").as_posix().replace("/", "-")
