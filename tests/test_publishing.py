from dataclasses import replace

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import sessionmaker

from bot.cli import main
from bot.config import Settings
from bot.db import make_engine, session_scope
from bot.migrations import upgrade_database
from retrieval import library
from retrieval.documents import Document
from retrieval.embeddings import make_embeddings
from retrieval.index import KnowledgeIndex
from retrieval.models import Base
from retrieval.publishing import Publisher

DOCS = {
    "returns.md": "# Returns\n\nSend a parcel back within 30 days for a refund.",
    "shipping.md": "# Shipping\n\nWe ship within Europe in five working days.",
}


@pytest.fixture
def publisher(tmp_path, kb_index):
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    Base.metadata.create_all(engine)
    yield Publisher(sessionmaker=sessionmaker(engine, expire_on_commit=False), index=kb_index)
    engine.dispose()


@pytest.fixture
def kb_dir(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


def rows(publisher):
    with session_scope(publisher._sessions) as session:
        return {
            r.doc_id: (r.version, r.index_state, r.chunk_count)
            for r in library.list_documents(session=session, deleted=None)
        }


def test_start_imports_an_empty_store_once_and_indexes_it(publisher, kb_dir):
    report = publisher.start(kb_dir)
    assert (report.added, report.chunks_embedded) == (2, 2)
    assert rows(publisher) == {"returns": (1, "indexed", 1), "shipping": (1, "indexed", 1)}
    (kb_dir / "new.md").write_text("# New\n\nNot imported: the store is no longer empty.")
    again = publisher.start(kb_dir)
    assert (again.added, again.unchanged, again.chunks_embedded) == (0, 2, 0)
    assert publisher.index.doc_ids == {"returns", "shipping"}


def test_start_without_a_kb_folder_leaves_everything_empty(publisher, tmp_path):
    assert publisher.start(tmp_path / "missing").chunks_embedded == 0
    assert rows(publisher) == {} and len(publisher.index) == 0


def test_reindex_catches_up_with_the_store_and_full_embeds_everything_again(publisher, kb_dir):
    publisher.start(kb_dir)
    changed = Document(doc_id="returns", title="Returns", body="Returns are free for 60 days.")
    with session_scope(publisher._sessions) as session:  # a change the index has not seen
        library.save_document(session=session, doc=changed, author="script")
        library.delete_document(session=session, doc_id="shipping")
    assert rows(publisher)["returns"][:2] == (2, "pending")
    report = publisher.reindex()
    assert (report.updated, report.deleted, report.unchanged) == (1, 1, 0)
    assert publisher.index.doc_ids == {"returns"}
    [hit] = publisher.index.search("free returns", k=1)
    assert (hit.doc_id, hit.version) == ("returns", 2)
    full = publisher.reindex(full=True)
    assert (full.added, full.chunks_embedded) == (1, 1)


def test_restore_and_delete_keep_the_index_in_step(publisher, kb_dir):
    publisher.start(kb_dir)
    assert publisher.delete("returns").chunks_deleted == 1
    assert rows(publisher)["returns"] == (1, "removed", 0)
    restored = publisher.restore("returns")
    assert restored.report.added == 1 and rows(publisher)["returns"] == (1, "indexed", 1)
    first = publisher.save(
        replace(restored.doc, body="Send it back in 14 days."), author="eve@example.com"
    )
    assert first.doc.version == 2
    back = publisher.restore_version("returns", 1, author="eve@example.com")
    assert back.doc.version == 3 and back.report.updated == 1
    assert "30 days" in publisher.index.search("send a parcel back", k=1)[0].text


def test_allhours_reindex_rebuilds_the_index_from_the_store(tmp_path, kb_dir):
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    database = make_engine(settings.sqlalchemy_url)
    upgrade_database(database)
    with session_scope(sessionmaker(database)) as session:  # stored, never indexed
        library.import_folder(session=session, kb_dir=kb_dir)
    database.dispose()
    env = {"ALLHOURS_DATA_DIR": str(data), "ALLHOURS_DATABASE_URL": ""}

    def reindex(*args: str) -> str:
        result = CliRunner().invoke(main, ["reindex", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "2 added, 0 updated, 0 deleted, 0 unchanged; 2 chunks embedded" in reindex()
    assert "0 added, 0 updated, 0 deleted, 2 unchanged; 0 chunks embedded" in reindex()
    assert "2 added, 0 updated, 0 deleted, 0 unchanged; 2 chunks embedded" in reindex("--full")


def test_an_edit_the_index_refuses_is_kept_and_marked_failed(tmp_path, openai_server):
    # Remote embeddings that fail (the local OpenAI-compatible test server answers 503).
    openai_server.status = 503
    embeddings = make_embeddings("openai", base_url=openai_server.base_url)
    index = KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path / "remote")
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    Base.metadata.create_all(engine)
    publisher = Publisher(sessionmaker=sessionmaker(engine, expire_on_commit=False), index=index)
    doc = Document(doc_id="returns", title="Returns", body="Returns are free for 60 days.")
    published = publisher.save(doc, author="eve@example.com")
    assert not published.indexed and published.doc.version == 1
    assert rows(publisher) == {"returns": (1, "failed", 0)}
    assert len(index) == 0 and openai_server.requests
    engine.dispose()
