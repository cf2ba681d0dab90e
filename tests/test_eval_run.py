"""``allhours-eval run`` and ``calibrate`` end to end on a tiny dataset in the shared format.

The dataset is written here (our own text), never copied from the evaluation data.
"""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evals.cli import main

KB = {
    "returns-window": (
        "Returning an item",
        "You can return any unused item within 30 days of delivery for a full refund. "
        "Start a return from the Orders page and print the prepaid label.",
    ),
    "shipping-times": (
        "Shipping times",
        "Standard shipping takes 3 to 5 business days. Express shipping arrives the next "
        "business day when you order before 2 pm.",
    ),
    "password-reset": (
        "Resetting your password",
        "To reset your password, open the sign-in page and choose Forgot password. We email "
        "a reset link that stays valid for one hour.",
    ),
    "kettle-descaling": (
        "Descaling the kettle",
        "Fill the kettle with equal parts water and white vinegar, boil it, and leave it for "
        "an hour. Rinse twice with clean water before use.",
    ),
}
ANSWERABLE = [
    ("How many days do I have to send something back?", "returns-window", "within 30 days"),
    ("How long does standard delivery take?", "shipping-times", "3 to 5 business days"),
    ("I forgot my password, how do I get a new one?", "password-reset", ""),
    ("How do I remove limescale from my kettle?", "kettle-descaling", "water and vinegar"),
    ("When does express shipping arrive?", "shipping-times", "the next business day"),
    ("Where do I start a return?", "returns-window", "from the Orders page"),
    ("How long is the password reset link valid?", "password-reset", "one hour"),
    ("What do I boil in the kettle to clean it?", "kettle-descaling", ""),
]
UNANSWERABLE = [
    "What is the capital of Mongolia?",
    "Can you book me a table for two tonight?",
    "Do you sell replacement lids for the kettle?",
    "What is my current account balance?",
    "Play some jazz music please",
    "Which football team won the cup in 1998?",
    "Thanks, that's all!",  # small talk: answered without retrieval, so never correct
]
FIELDS = {"id", "decision", "reason", "confidence", "cited_docs", "answer", "latency_ms"}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "kb").mkdir(parents=True)
    for doc_id, (title, text) in KB.items():
        (root / "kb" / f"{doc_id}.md").write_text(f"# {title}\n\n{text}\n")
    rows = [
        {"question": q, "answerable": True, "gold_docs": [doc], "answer": ref, "category": "faq"}
        for q, doc, ref in ANSWERABLE
    ] + [
        {"question": q, "answerable": False, "gold_docs": [], "answer": "", "category": "off"}
        for q in UNANSWERABLE
    ]
    with (root / "questions.jsonl").open("w") as f:
        for i, row in enumerate(rows):
            f.write(json.dumps({"id": f"q{i}", "history": [], "source": "test", **row}) + "\n")
    return root


def _predictions(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def test_run_writes_predictions_metrics_report_and_plots(dataset: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--dataset", str(dataset), "--out", str(out)])
    assert result.exit_code == 0, result.output

    predictions = _predictions(out)
    assert [p["id"] for p in predictions] == [f"q{i}" for i in range(15)]
    for p in predictions:
        assert set(p) == FIELDS
        assert p["decision"] in {"answer", "handoff", "clarify"}
        assert 0.0 <= p["confidence"] <= 1.0 and p["latency_ms"] > 0
        assert all(doc in KB for doc in p["cited_docs"])
        assert (p["reason"] is None) == (p["decision"] == "answer")
    by_id = {p["id"]: p for p in predictions}
    # the primary citation of a plain FAQ question is its article (file stem as doc id)
    assert by_id["q1"]["cited_docs"][0] == "shipping-times"

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["questions"] == 15 and metrics["answerable"] == 8
    assert set(metrics["retrieval"]) == {"engine", "hybrid", "bm25", "dense"}
    assert metrics["retrieval"]["engine"]["recall@5"] == 1.0
    for key in ("auroc", "resolution_at_5pct", "resolution_at_10pct", "ece"):
        assert 0.0 <= metrics[key] <= 1.0
    report = (out / "report.md").read_text()
    assert "Recall@5" in report and "resolution at <= 5 %" in report
    for name in ("risk_coverage", "confidence_hist", "reliability", "latency_hist"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"

    # the product's figures agree with an independent scorer run on the same predictions
    scored = _score(dataset, out / "predictions.jsonl")
    for key in ("auroc", "resolution_at_5pct", "resolution_at_10pct", "ece"):
        assert metrics[key] == pytest.approx(scored[key])
    assert metrics["default_policy"]["resolution"] == pytest.approx(
        scored["default_policy"]["resolution"]
    )


def _score(dataset: Path, predictions: Path) -> dict:
    """A brute-force re-count of the decision figures, independent of evals.metrics."""
    lines = (dataset / "questions.jsonl").read_text().splitlines()
    questions = {q["id"]: q for q in map(json.loads, lines)}
    items, pos, neg, right, answered = [], [], [], 0, 0
    for p in map(json.loads, predictions.read_text().splitlines()):
        q = questions[p["id"]]
        ok = q["answerable"] and p["cited_docs"][:1] in ([d] for d in q["gold_docs"])
        items.append((p["confidence"], ok))
        (pos if q["answerable"] else neg).append(p["confidence"])
        answered += p["decision"] == "answer"
        right += p["decision"] == "answer" and ok
    n_ans = len(pos)

    def at_risk(risk: float) -> float:
        best = 0.0
        for t in {c for c, _ in items}:
            chosen = [ok for c, ok in items if c >= t]
            if chosen.count(False) / len(chosen) <= risk:
                best = max(best, chosen.count(True) / n_ans)
        return best

    bins = [[(c, ok) for c, ok in items if min(int(c * 10), 9) == b] for b in range(10)]
    return {
        "auroc": sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg)),
        "resolution_at_5pct": at_risk(0.05),
        "resolution_at_10pct": at_risk(0.10),
        "ece": sum(
            len(b) / len(items) * abs(sum(c for c, _ in b) - sum(ok for _, ok in b)) / len(b)
            for b in bins
            if b
        ),
        "default_policy": {"resolution": right / n_ans},
    }


def test_calibrate_then_run_reports_out_of_fold(dataset: Path, tmp_path: Path, monkeypatch):
    calibration = tmp_path / "calibration.json"
    runner = CliRunner()
    result = runner.invoke(
        main, ["calibrate", "--dataset", str(dataset), "--out", str(calibration)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(calibration.read_text())
    assert len(data["features"]) == len(data["weights"]) > 0
    assert 0.0 <= data["threshold"] <= 1.0 and data["target_wrong_rate"] == 0.05
    assert [d["dataset"] for d in data["datasets"]] == ["tiny"]
    assert data["datasets"][0]["questions"] == 15
    assert data["datasets"][0]["fitted"] == 14  # small talk has no signals to fit
    cv = data["cross_validation"]
    assert "grouped" in cv["method"] and cv["tiny"]["questions"] == 14

    # The server reads the file; a run on the very dataset it was fitted on goes out-of-fold.
    monkeypatch.setenv("ALLHOURS_CALIBRATION_PATH", str(calibration))
    out = tmp_path / "out"
    result = runner.invoke(main, ["run", "--dataset", str(dataset), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert "out-of-fold" in metrics["calibration"]["description"]
    assert "out-of-fold" in (out / "report.md").read_text()
    assert len(_predictions(out)) == 15
