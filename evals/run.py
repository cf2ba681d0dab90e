"""``allhours-eval run``: every question of a dataset through the widget's decision path.

Writes ``predictions.jsonl`` (the shared evaluation format), ``metrics.json``, ``report.md``
and the plots. When the shipped calibration was fitted on this very dataset, its confidences
would flatter it, so the run re-fits the same logistic model with grouped k-fold
cross-validation and reports every question's out-of-fold confidence and decision instead.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import Settings
from evals import calibrate, metrics, plots, report
from evals.deployment import Deployment, Result, deploy, fingerprint
from evals.retrieval import compare_retrievers

_SHIPPED = (
    "The shipped calibration (`bot/answering/calibration.json`) was not fitted on this dataset: "
    "these are its confidences and decisions exactly as the server makes them."
)
_OUT_OF_FOLD = (
    "The shipped calibration was fitted on this dataset, so its own confidences would flatter "
    "it. Instead this run re-fitted the same logistic model ({features} features: the "
    "signals and their pairwise products) with "
    "{folds}-fold cross-validation, stratified by label and grouped by the top retrieved "
    "document (near-duplicate questions retrieve the same passage and so never sit on both "
    "sides of a split). Every confidence below is out-of-fold, and every decision uses a "
    "threshold picked (for {risk:.0%} wrong answers) only on the other folds. No question "
    "text was used for fitting: only the engine's signals and the labels."
)


def run(dataset: Path, out: Path, *, settings: Settings | None = None, command: str = "") -> dict:
    with deploy(dataset, settings) as deployment:
        results = deployment.ask_all()
        engine = deployment.engine
        retrieval = compare_retrievers(
            engine.index,
            deployment.questions,
            reader=engine.reader,
            candidates=engine.candidates,
            per_doc=engine.chunks_per_doc,
        )
        calibration = json.loads(Path(deployment.settings.calibration_path).read_text())
        fitted_on = calibration.get("datasets", [])
        if any(d.get("fingerprint") == fingerprint(dataset) for d in fitted_on):
            results, threshold, honesty = _out_of_fold(results, deployment, calibration)
        else:
            threshold, honesty = deployment.policy.threshold, _SHIPPED

    out.mkdir(parents=True, exist_ok=True)
    with (out / "predictions.jsonl").open("w") as f:
        for r in results:
            f.write(json.dumps(r.prediction()) + "\n")
    figures = summarize(results, threshold)
    figures.update(
        dataset=dataset.name,
        command=command or f"allhours-eval run --dataset {dataset} --out {out}",
        kb_docs=deployment.documents,
        finished_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        retrieval=retrieval,
        calibration={
            "description": honesty,
            "fitted_on": fitted_on,
            "shipped": calibration.get("fitted_on", ""),
        },
    )
    figures["plots"] = plots.draw_all(
        out,
        items=[(r.draft.confidence, r.correct) for r in results],
        answerable=[r.question.answerable for r in results],
        n_answerable=figures["answerable"],
        latencies_ms=[r.latency_ms for r in results],
        title=dataset.name,
    )
    report.write(out, figures)
    return figures


def _out_of_fold(
    results: list[Result], deployment: Deployment, calibration: dict[str, Any]
) -> tuple[list[Result], float, str]:
    features = list(calibration["features"])
    risk = float(calibration.get("target_wrong_rate", 0.05))
    # Small talk has no signals and no confidence to judge: it keeps its turn as it was.
    fitted = [r for r in results if r.draft.kind == "retrieval"]
    X = calibrate.matrix([r.draft.signals for r in fitted], features)
    y = np.array([r.correct for r in fitted], dtype=int)
    answerable = np.array([r.question.answerable for r in fitted])
    groups = np.array([r.group for r in fitted])
    fold_of = calibrate.split(y, groups.tolist())
    confidences = calibrate.out_of_fold(X, y, fold_of)
    thresholds = calibrate.fold_thresholds(X, y, answerable, groups, fold_of, risk)
    if deployment.settings.handoff_threshold is not None:  # an explicit setting wins, as live
        thresholds[:] = deployment.settings.handoff_threshold
    redecided = {
        id(r): r.redecide(float(c), replace(deployment.policy, threshold=float(t)))
        for r, c, t in zip(fitted, confidences, thresholds, strict=True)
    }
    # Reported as one figure: the mean of the thresholds the folds picked.
    threshold = float(np.mean(thresholds)) if len(thresholds) else deployment.policy.threshold
    honesty = _OUT_OF_FOLD.format(features=len(features), folds=len(set(fold_of)), risk=risk)
    return [redecided.get(id(r), r) for r in results], threshold, honesty


def summarize(results: list[Result], threshold: float) -> dict[str, Any]:
    """Every decision, calibration, answer and latency figure of a run."""
    items = [(r.draft.confidence, r.correct) for r in results]
    answerable = [r.question.answerable for r in results]
    n_answerable = sum(answerable)
    decisions = [(str(r.decision.action), r.correct) for r in results]
    referenced = [r for r in results if r.question.answer]
    answered_ref = [r for r in referenced if str(r.decision.action) == "answer"]
    latencies = [r.latency_ms for r in results]
    return {
        "questions": len(results),
        "answerable": n_answerable,
        "auroc": metrics.auroc(
            [c for (c, _), a in zip(items, answerable, strict=True) if a],
            [c for (c, _), a in zip(items, answerable, strict=True) if not a],
        ),
        "resolution_at_5pct": metrics.resolution_at_risk(items, n_answerable, 0.05),
        "resolution_at_10pct": metrics.resolution_at_risk(items, n_answerable, 0.10),
        "ece": metrics.ece(items),
        "default_policy": {
            **metrics.default_policy(decisions, n_answerable),
            "threshold": threshold,
            "decisions": dict(Counter(d for d, _ in decisions)),
            "reasons": dict(Counter(str(r.decision.reason) for r in results if r.decision.reason)),
        },
        "token_f1": {
            "answered": _mean_f1(answered_ref),
            "answered_n": len(answered_ref),
            "all": _mean_f1(referenced),
            "all_n": len(referenced),
        },
        "latency_ms": {
            "p50": metrics.percentile(latencies, 50),
            "p95": metrics.percentile(latencies, 95),
            "mean": statistics.fmean(latencies) if latencies else float("nan"),
        },
        "by_category": _by_category(results),
    }


def _mean_f1(results: list[Result]) -> float | None:
    if not results:
        return None
    return statistics.fmean(metrics.token_f1(r.draft.answer, r.question.answer) for r in results)


def _by_category(results: list[Result]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for name in sorted({r.question.category for r in results}):
        rows = [r for r in results if r.question.category == name]
        answered = [r for r in rows if str(r.decision.action) == "answer"]
        table[name] = {
            "questions": len(rows),
            "answered": len(answered),
            "correct_answers": sum(r.correct for r in answered),
            "mean_confidence": statistics.fmean(r.draft.confidence for r in rows),
        }
    return table
