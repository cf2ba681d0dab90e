import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import chromadb
import pytest
from chromadb.api.client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

from retrieval.chunking import chunk_document
from retrieval.documents import Document
from retrieval.index import KnowledgeIndex
from retrieval.sentences import split_sentences

CHROMA = Path(sys.executable).parent / "chroma"

DOCS = [
    Document("billing-refunds", "Refunds", "## Card\n\nRefunds reach your card in 5 days.\n"),
    Document("devices-hub", "Hub offline", "## Lights\n\nA red light means no internet.\n"),
    Document("account-email", "Change your email", "Open Profile, then Email, then Save.\n"),
]


def long_doc(doc_id: str, word: str) -> Document:
    steps = [f"## Step {i}\n\n" + f"{word} step {i} of the guide. " * 12 for i in range(4)]
    body = "\n\n".join(steps)
    return Document(doc_id, f"Guide {word}", body)


def test_second_sync_of_an_unchanged_folder_embeds_nothing(kb_index):
    first = kb_index.sync(DOCS)
    assert (first.added, first.updated, first.deleted) == (3, 0, 0)
    assert first.chunks_embedded == sum(len(chunk_document(d)) for d in DOCS) == len(kb_index)
    second = kb_index.sync(DOCS)
    assert (second.added, second.updated, second.unchanged, second.chunks_embedded) == (0, 0, 3, 0)
    assert not second.changed


def test_a_changed_document_re_embeds_only_its_chunks(kb_index):
    docs = [*DOCS, long_doc("guide", "alpha")]
    kb_index.sync(docs)
    before = len(kb_index)
    changed = long_doc("guide", "omega")
    report = kb_index.sync([*DOCS, changed])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 3)
    assert report.chunks_embedded == len(chunk_document(changed))
    assert report.chunks_deleted == len(chunk_document(docs[-1]))
    assert len(kb_index) == before
    # The BM25 side follows: the new word is found, the old one is gone.
    assert kb_index.search("omega", mode="bm25")[0].doc_id == "guide"
    assert kb_index.search("alpha", mode="bm25") == []


def test_a_document_missing_from_the_folder_is_removed(kb_index):
    kb_index.sync(DOCS)
    report = kb_index.sync(DOCS[1:])
    assert (report.deleted, report.unchanged, report.chunks_embedded) == (1, 2, 0)
    assert report.chunks_deleted == len(chunk_document(DOCS[0]))
    assert kb_index.doc_ids == {"devices-hub", "account-email"}
    assert all(h.doc_id != "billing-refunds" for h in kb_index.search("refunds card", k=5))
    assert kb_index.search("refunds", mode="bm25") == []


def test_delete_missing_false_keeps_other_documents(kb_index):
    kb_index.sync(DOCS)
    report = kb_index.sync(DOCS[:1], delete_missing=False)
    assert (report.deleted, report.unchanged) == (0, 1)
    assert len(kb_index.doc_ids) == 3


def test_upsert_and_delete_one_document(kb_index):
    kb_index.sync(DOCS)
    same = kb_index.upsert(DOCS[0])
    assert (same.unchanged, same.chunks_embedded) == (1, 0)
    new = Document("billing-invoices", "Invoices", "Download invoices from Billing, then History.")
    added = kb_index.upsert(new)
    assert (added.added, added.chunks_embedded) == (1, 1)
    assert kb_index.search("download invoices history", k=1)[0].doc_id == "billing-invoices"
    removed = kb_index.delete("billing-invoices")
    assert (removed.deleted, removed.chunks_deleted) == (1, 1)
    assert kb_index.delete("never-indexed").deleted == 0
    assert "billing-invoices" not in kb_index.doc_ids


def test_a_document_without_one_searchable_word_is_indexed_and_search_goes_on(kb_index):
    # Found by fuzzing the editor's API: no word of two letters or more, so BM25 has no term
    # for it, and building the lexical table raised IndexError (the save stayed unindexed).
    kb_index.sync(DOCS)
    report = kb_index.upsert(Document("dots", "0", "- . ! ?"))
    assert report.added == 1 and "dots" in kb_index.doc_ids
    assert kb_index.search("refunds to my card", k=1, mode="bm25")[0].doc_id == "billing-refunds"


def test_progress_reports_every_chunk_and_sentence_embedded(kb_index):
    calls = []
    report = kb_index.sync(DOCS, progress=lambda done, total: calls.append((done, total)))
    total = len(kb_index) + report.sentences_embedded
    assert report.sentences_embedded == 3  # one sentence each, each a chunk of its own
    assert calls[0] == (0, total) and calls[-1] == (total, total)


def test_the_sentences_of_indexed_documents_have_stored_vectors(kb_index, embeddings):
    shared = "Contact support if this does not help."
    guide = long_doc("guide", "alpha")
    card = Document("card", "Card", f"## Card\n\nRefunds reach your card in 5 days. {shared}\n")
    hub = Document("hub", "Hub", f"A red light means no internet. {shared}\n")
    report = kb_index.sync([guide, card, hub])
    # Distinct sentences: the guide repeats each of its 4; the two others share one.
    sentences = list(dict.fromkeys(split_sentences(f"{guide.body}\n{card.body}\n{hub.body}")))
    assert report.sentences_embedded == len(sentences) == 4 + 2 + 1
    stored = kb_index.sentences.lookup([*sentences, "A sentence no document holds."])
    assert set(stored) == set(sentences)
    fresh = embeddings.embed_documents(["Refunds reach your card in 5 days."])[0]
    assert float(stored["Refunds reach your card in 5 days."] @ fresh) == pytest.approx(1.0)
    # A changed document's old sentences go, a deleted one's too; a sentence that another
    # document still holds stays.
    omega = long_doc("guide", "omega")
    kb_index.sync([omega, card, hub])
    kb_index.delete("card")
    left = kb_index.sentences.lookup(sentences + split_sentences(omega.body))
    assert set(left) == {shared, "A red light means no internet."} | set(
        split_sentences(omega.body)
    )


def test_a_reopened_index_gives_the_same_results(tmp_path, embeddings):
    first = KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path)
    first.sync(DOCS)
    expected = first.search("my hub shows a red light", k=3)
    # Drop Chroma's per-process cache so the second index really reads the folder.
    SharedSystemClient.clear_system_cache()
    reopened = KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path)
    assert reopened.search("my hub shows a red light", k=3) == expected
    assert reopened.sync(DOCS).chunks_embedded == 0


def test_a_half_written_document_is_embedded_again(tmp_path, embeddings):
    index = KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path)
    guide = long_doc("guide", "alpha")
    index.sync([guide])
    # Simulate a sync interrupted between writes: one of the guide's chunks never landed.
    client = chromadb.PersistentClient(str(tmp_path), ChromaSettings(anonymized_telemetry=False))
    client.get_collection("kb-chunks").delete(ids=["guide#1"])
    index.refresh()
    report = index.sync([guide])
    assert (report.updated, report.chunks_embedded) == (1, len(chunk_document(guide)))
    assert len(index) == len(chunk_document(guide))


def test_documents_indexed_before_sentence_vectors_are_indexed_again(tmp_path, embeddings):
    index = KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path)
    index.sync(DOCS)
    # What an index written by the previous release holds: chunks without the layout mark and
    # no sentence vectors.
    client = chromadb.PersistentClient(str(tmp_path), ChromaSettings(anonymized_telemetry=False))
    chunks = client.get_collection("kb-chunks")
    old = chunks.get(include=["documents", "metadatas", "embeddings"])
    chunks.delete(ids=old["ids"])
    metadatas = [{k: v for k, v in meta.items() if k != "layout"} for meta in old["metadatas"]]
    chunks.add(
        ids=old["ids"],
        documents=old["documents"],
        metadatas=metadatas,
        embeddings=old["embeddings"],
    )
    client.delete_collection("kb-sentences")
    SharedSystemClient.clear_system_cache()
    reopened = KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path)
    report = reopened.sync(DOCS)
    assert (report.updated, report.chunks_embedded, report.sentences_embedded) == (3, 3, 3)
    assert set(reopened.sentences.lookup(["A red light means no internet."])) == {
        "A red light means no internet."
    }
    assert reopened.sync(DOCS).chunks_embedded == 0


def test_unknown_search_mode_is_rejected(kb_index):
    with pytest.raises(ValueError, match="unknown search mode 'fuzzy'"):
        kb_index.search("anything", mode="fuzzy")


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server (the CLI that ships with chromadb) on a free local port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(CHROMA), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("the Chroma server did not start")
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_a_chroma_server_is_shared_by_two_indexes(chroma_server, embeddings):
    writer = KnowledgeIndex(embeddings=embeddings, chroma_url=chroma_server)
    assert writer.sync(DOCS).added == 3
    reader = KnowledgeIndex(embeddings=embeddings, chroma_url=chroma_server)
    assert reader.doc_ids == writer.doc_ids
    assert reader.sync(DOCS).chunks_embedded == 0
    writer.delete("devices-hub")
    reader.refresh()
    assert "devices-hub" not in reader.doc_ids
    assert reader.search("red light", k=3) == writer.search("red light", k=3)
