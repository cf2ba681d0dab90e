import json
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from bot.answering.reader import Reader
from evals.cli import main
from evals.datasets import load_dataset
from evals.retrieval import compare_retrievers, evaluate_dataset, score
from retrieval.index import KnowledgeIndex

KB = {
    "tv-001-pairing-the-remote": "# Pairing the remote\n\nHold Back and Play for three seconds.\n",
    "tv-002-picture-mode": "# Picture mode\n\nChoose Movie, Standard or Dynamic in Settings.\n",
    "tv-003-sleep-timer": "# Sleep timer\n\nThe TV turns itself off after the set time.\n",
}
QUESTIONS = [
    {"question": "How do I pair my remote?", "gold_docs": ["tv-001-pairing-the-remote"]},
    {"question": "switch the picture to Movie", "gold_docs": ["tv-002-picture-mode"]},
    {
        "question": "and after how long?",
        "history": [{"role": "customer", "text": "Can the TV turn off by itself?"}],
        "gold_docs": ["tv-003-sleep-timer"],
    },
    {"question": "What is my bank balance?", "gold_docs": [], "answerable": False},
]


@pytest.fixture
def dataset(tmp_path):
    (tmp_path / "kb").mkdir()
    for doc_id, text in KB.items():
        (tmp_path / "kb" / f"{doc_id}.md").write_text(text)
    with (tmp_path / "questions.jsonl").open("w") as f:
        for i, q in enumerate(QUESTIONS):
            row = {"id": f"q{i}", "history": [], "answerable": True, "answer": "", **q}
            f.write(json.dumps(row) + "\n")
    return tmp_path


def test_score_counts_any_gold_document():
    ranked = [["a", "b"], ["c", "a"], ["x", "y"]]
    figures = score(ranked, [{"a"}, {"a", "z"}, {"b"}])
    assert figures == pytest.approx(
        {"recall@1": 1 / 3, "recall@5": 2 / 3, "mrr@10": (1 + 0.5) / 3, "n": 3}
    )


def test_dataset_doc_ids_are_the_file_stems(dataset):
    loaded = load_dataset(dataset)
    assert sorted(doc.doc_id for doc in loaded.documents) == sorted(KB)
    assert len(loaded.questions) == 4 and len(loaded.answerable) == 3


def test_unknown_gold_documents_are_refused(dataset):
    with (dataset / "questions.jsonl").open("a") as f:
        f.write(json.dumps({"question": "?", "answerable": True, "gold_docs": ["nope"]}) + "\n")
    with pytest.raises(ValueError, match="gold_docs not in kb/: nope"):
        load_dataset(dataset)


def test_evaluate_dataset_compares_the_three_retrievers(dataset, embeddings):
    figures = evaluate_dataset(dataset, embeddings=embeddings)
    assert (figures["documents"], figures["chunks"]) == (3, 3)
    assert set(figures["retrievers"]) == {"engine", "hybrid", "bm25", "dense"}
    engine = figures["retrievers"]["engine"]
    assert engine["n"] == 3  # the unanswerable question is not scored
    assert engine["recall@5"] == 1.0
    assert figures["retrievers"]["bm25"]["recall@1"] >= 2 / 3


@dataclass
class _Question:
    question: str
    answerable: bool
    gold_docs: tuple[str, ...]


def test_compare_retrievers_takes_question_objects(tmp_path, embeddings, dataset):
    index = KnowledgeIndex(embeddings=embeddings, persist_dir=tmp_path / "chroma")
    index.sync(load_dataset(dataset).documents)
    questions = [_Question("sleep timer", True, ("tv-003-sleep-timer",))]
    figures = compare_retrievers(index, questions, reader=Reader(), candidates=8, per_doc=2)
    assert figures["engine"]["recall@1"] == 1.0 and figures["engine"]["n"] == 1


def test_cli_prints_a_table_and_writes_json(dataset, tmp_path):
    out = tmp_path / "out" / "retrieval.json"
    result = CliRunner().invoke(main, ["retrieval", "--dataset", str(dataset), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Recall@1" in result.output
    for label in ("reranked (engine)", "hybrid", "BM25 only", "dense only"):
        assert label in result.output
    written = json.loads(out.read_text())
    assert written["dataset"] == dataset.name
    assert written["retrievers"]["engine"]["n"] == 3
