from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine, session_scope
from retrieval import library
from retrieval.documents import Document
from retrieval.models import Base

DOC = Document(
    doc_id="gift-cards",
    title="Gift cards",
    body="# Gift cards\n\nGift cards never expire.",
    tags=("billing", "Cards"),
)


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def save(sessions, doc=DOC, author="eve@example.com"):
    with session_scope(sessions) as session:
        return library.save_document(session=session, doc=doc, author=author)


def test_a_new_version_only_when_the_content_changes(sessions):
    first = save(sessions)
    assert (first.doc.version, first.changed) == (1, True)
    again = save(sessions, author="someone-else")
    assert (again.doc.version, again.changed) == (1, False)
    edited = save(sessions, replace(DOC, body=DOC.body + " Not even after ten years."))
    assert (edited.doc.version, edited.changed) == (2, True)
    retitled = save(sessions, replace(edited.doc, title="Gift cards and vouchers"))
    assert retitled.doc.version == 3
    with session_scope(sessions) as session:
        history = library.versions(session=session, doc_id="gift-cards")
        assert [v.version for v in history] == [3, 2, 1]
        assert [v.author for v in history] == ["eve@example.com"] * 3
        assert history[0].content_hash == retitled.doc.content_hash
        row = library.get_row(session=session, doc_id="gift-cards")
        assert (row.version, row.title, row.index_state) == (
            3,
            "Gift cards and vouchers",
            "pending",
        )
        assert library.get_document(session=session, doc_id="gift-cards", version=1) == DOC


def test_restore_version_appends_the_old_text_as_a_new_version(sessions):
    save(sessions)
    save(sessions, replace(DOC, body="# Gift cards\n\nGift cards expire after a year."))
    with session_scope(sessions) as session:
        restored = library.restore_version(
            session=session, doc_id="gift-cards", version=1, author="ana@example.com"
        )
    assert restored.changed and restored.doc.version == 3
    assert restored.doc.body == DOC.body
    with session_scope(sessions) as session:
        assert [v.author for v in library.versions(session=session, doc_id="gift-cards")][0] == (
            "ana@example.com"
        )
        # Restoring the text that is already current writes nothing.
        same = library.restore_version(session=session, doc_id="gift-cards", version=1, author="x")
        assert (same.doc.version, same.changed) == (3, False)


def test_delete_hides_the_document_and_restore_brings_it_back(sessions):
    save(sessions)
    save(sessions, replace(DOC, doc_id="returns", title="Returns", tags=()))
    with session_scope(sessions) as session:
        library.delete_document(session=session, doc_id="gift-cards")
    with session_scope(sessions) as session:
        assert [d.doc_id for d in library.current_documents(session=session)] == ["returns"]
        assert [r.doc_id for r in library.list_documents(session=session, deleted=True)] == [
            "gift-cards"
        ]
        assert not library.is_live(session=session, doc_id="gift-cards")
        back = library.restore_document(session=session, doc_id="gift-cards")
    assert back == DOC
    with session_scope(sessions) as session:
        assert len(library.current_documents(session=session)) == 2
    # Saving a deleted document's unchanged text brings it back too, without a new version.
    with session_scope(sessions) as session:
        library.delete_document(session=session, doc_id="returns")
    revived = save(sessions, replace(DOC, doc_id="returns", title="Returns", tags=()))
    assert (revived.doc.version, revived.changed) == (1, True)


def test_unknown_documents_and_versions_raise_not_found(sessions):
    save(sessions)
    with session_scope(sessions) as session:
        with pytest.raises(library.NotFound):
            library.get_document(session=session, doc_id="nope")
        with pytest.raises(library.NotFound):
            library.get_document(session=session, doc_id="gift-cards", version=7)
        with pytest.raises(library.NotFound):
            library.delete_document(session=session, doc_id="nope")


def test_list_documents_searches_titles_and_ids_and_filters_by_tag_and_state(sessions):
    save(sessions)
    save(sessions, Document(doc_id="returns", title="Return a parcel", body="Send it back."))
    save(sessions, Document(doc_id="gift-wrap", title="Wrapping", body="We wrap.", tags=("x",)))
    with session_scope(sessions) as session:
        library.mark_indexed(session=session, doc_id="returns", state="indexed", chunk_count=1)

        def ids(**filters):
            return sorted(r.doc_id for r in library.list_documents(session=session, **filters))

        assert ids(search="GIFT") == ["gift-cards", "gift-wrap"]
        assert ids(search="parcel") == ["returns"]
        assert ids(tag="cards") == ["gift-cards"]
        assert ids(index_state="indexed") == ["returns"]
        assert ids(index_state="pending") == ["gift-cards", "gift-wrap"]
        by_title = library.list_documents(session=session, sort="title")
        assert [r.title for r in by_title] == ["Gift cards", "Return a parcel", "Wrapping"]
        assert library.all_tags(session=session) == ["billing", "Cards", "x"]
        gift = library.get_row(session=session, doc_id="gift-cards")
        gift.updated_at = datetime(2020, 1, 1, tzinfo=UTC)
        session.flush()
        recent = ids(updated_since=datetime(2024, 1, 1, tzinfo=UTC))
        assert recent == ["gift-wrap", "returns"]


def test_diff_is_unified_or_an_escaped_side_by_side_table():
    old = replace(DOC, version=1)
    new = replace(DOC, version=2, body=DOC.body + "\n\n<script>alert(1)</script>")
    unified = library.diff(old, new)
    assert unified.startswith("--- gift-cards v1\n+++ gift-cards v2\n")
    assert "+<script>alert(1)</script>" in unified
    table = library.diff(old, new, html=True)
    assert "<table" in table and "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert "<script>" not in table


def test_import_folder_saves_readable_files_and_reports_broken_ones(sessions, tmp_path):
    kb = tmp_path / "kb"
    (kb / "billing").mkdir(parents=True)
    (kb / "billing" / "refunds.md").write_text(
        "---\ntags: [billing]\n---\n# Refunds\n\nWithin 30 days."
    )
    (kb / "empty.md").write_text("   ")
    with session_scope(sessions) as session:
        assert not library.has_documents(session=session)
        saved, errors = library.import_folder(session=session, kb_dir=kb)
    assert [s.doc.doc_id for s in saved] == ["billing-refunds"]
    assert [e.reason for e in errors] == ["empty file"]
    with session_scope(sessions) as session:
        assert library.has_documents(session=session)
        again, _ = library.import_folder(session=session, kb_dir=kb)
    assert [s.changed for s in again] == [False]  # re-importing the same folder is free
