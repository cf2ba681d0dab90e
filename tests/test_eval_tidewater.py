"""The team's own labelled questions on kb_docs (``evals/tidewater``) through ``allhours-eval
run``: a knowledge base and questions the shipped calibration never saw, so the figures are
those of a new customer's help centre. The floors sit well under what was measured
(2026-12-03, with the reader: Recall@1 0.700, Recall@5 0.911, AUROC 0.874): they catch a broken
retriever, reader or confidence, not noise.
"""

from pathlib import Path

from evals.run import run

TIDEWATER = Path(__file__).resolve().parents[1] / "evals" / "tidewater"


def test_the_own_question_set_runs_offline_with_the_shipped_calibration(tmp_path):
    out = tmp_path / "tidewater"
    figures = run(TIDEWATER, out)
    assert figures["questions"] == 161 and figures["answerable"] == 90
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 161
    assert "was not fitted on this dataset" in figures["calibration"]["description"]
    engine = figures["retrieval"]["engine"]
    assert engine["recall@1"] >= 0.60 and engine["recall@5"] >= 0.85
    assert figures["auroc"] >= 0.80
