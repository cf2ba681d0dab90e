from pathlib import Path

import pytest

from retrieval.documents import Document
from retrieval.index import KnowledgeIndex
from retrieval.loaders import load_folder

KB_DOCS = Path(__file__).resolve().parent.parent / "kb_docs"

# Customer wording that shares few words with the article that answers it.
PARAPHRASES = [
    ("I can't remember the secret I use to log in", "account-reset-password"),
    ("the little door gadget died, what power cell does it take?", "devices-replace-batteries"),
    ("the box on my shelf glows yellow and the app says it's unreachable", "devices-hub-offline"),
    ("money back for the yearly membership charged last week?", "billing-refund-policy"),
    ("courier says it arrived, nothing at my doorstep", "shipping-lost-or-damaged-parcel"),
    ("how do I get a copy of all the information you store about me?", "privacy-export-your-data"),
    ("my partner wants to control things from their own phone", "account-household-members"),
    ("the security camera refuses to go online with my router", "devices-camera-wont-connect"),
    ("my bank declined the charge for my membership", "billing-payment-methods"),
    ("can anyone at your company watch my footage?", "privacy-camera-privacy"),
    ("I'm selling my gear, how do I wipe it completely?", "devices-factory-reset"),
]


@pytest.fixture(scope="module")
def kb_docs_index(tmp_path_factory, embeddings) -> KnowledgeIndex:
    docs, errors = load_folder(KB_DOCS)
    assert not errors
    index = KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path_factory.mktemp("kb"))
    index.sync(docs)
    return index


@pytest.mark.parametrize(("question", "doc_id"), PARAPHRASES)
def test_paraphrased_questions_find_their_article(kb_docs_index, question, doc_id):
    hits = kb_docs_index.search(question, k=3)
    assert doc_id in [hit.doc_id for hit in hits]


def test_hybrid_hits_carry_every_score_and_one_chunk_per_document(kb_docs_index):
    hits = kb_docs_index.search("when does the password reset link expire", k=5)
    assert len(hits) == 5
    assert len({hit.doc_id for hit in hits}) == 5
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    top = hits[0]
    assert top.doc_id == "account-reset-password"
    assert top.title == "Reset your password or unlock your account"
    assert top.url.startswith("http")
    assert top.heading_path and top.text and top.version == 1
    assert 0 < top.dense_score <= 1 and top.dense_rank >= 1
    assert top.bm25_score > 0 and top.bm25_rank >= 1


def test_per_doc_brings_each_documents_next_best_chunks_after_its_best(kb_docs_index, embeddings):
    question = "I forgot my password"
    vector = embeddings.embed_query(question)
    single = kb_docs_index.search_with_vector(question, vector, k=4)
    hits = kb_docs_index.search_with_vector(question, vector, k=4, per_doc=2)
    # The same documents in the same order, each led by the chunk the single search chose.
    assert list(dict.fromkeys(h.doc_id for h in hits)) == [h.doc_id for h in single]
    leaders = [h for i, h in enumerate(hits) if i == 0 or hits[i - 1].doc_id != h.doc_id]
    assert [h.chunk_id for h in leaders] == [h.chunk_id for h in single]
    for doc in single:
        own = [h for h in hits if h.doc_id == doc.doc_id]
        assert 1 <= len(own) <= 2 and len({h.chunk_id for h in own}) == len(own)
        assert all(h.score == doc.score for h in own)  # each carries its document's score
    assert len(hits) > len(single)  # kb_docs articles have several sections


def test_single_retriever_modes_fill_only_their_scores(kb_docs_index):
    dense = kb_docs_index.search("reset link", k=3, mode="dense")
    assert all(h.bm25_score is None and h.bm25_rank is None for h in dense)
    assert all(h.score == h.dense_score for h in dense)
    bm25 = kb_docs_index.search("reset link", k=3, mode="bm25")
    assert all(h.dense_score is None and h.dense_rank is None for h in bm25)
    assert all(h.score == h.bm25_score for h in bm25)
    assert [h.bm25_rank for h in bm25] == sorted(h.bm25_rank for h in bm25)


def test_a_precomputed_query_vector_gives_the_same_hits(kb_docs_index, embeddings):
    question = "which batteries does the motion sensor use"
    vector = embeddings.embed_query(question)
    assert kb_docs_index.search_with_vector(question, vector) == kb_docs_index.search(question)
    with pytest.raises(ValueError, match="needs a query vector"):
        kb_docs_index.search_with_vector(question, None, mode="hybrid")
    assert kb_docs_index.search_with_vector(question, None, mode="bm25")


def test_a_query_without_any_known_word_still_gets_dense_hits(kb_docs_index):
    hits = kb_docs_index.search("zzxq", k=2)
    assert len(hits) == 2
    assert all(h.bm25_rank is None and h.dense_rank for h in hits)


def test_an_empty_index_finds_nothing(kb_index):
    assert kb_index.search("anything") == []
    kb_index.sync([Document("a", "A", "Only document.")])
    assert [h.doc_id for h in kb_index.search("anything", k=5)] == ["a"]
