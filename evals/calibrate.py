"""Calibration: fit how the engine's signals combine into the probability of a correct answer.

A logistic regression (scikit-learn) maps the signals to "answerable AND gold primary citation".
Figures are only ever reported out-of-fold: stratified group k-fold, where a group is the top
retrieved document, so near-duplicate questions (which retrieve the same passage) never sit on
both sides of a split. The threshold is picked on those out-of-fold confidences for a target
wrong-answer rate. Question texts are never looked at: only the signals and the labels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from bot.answering.confidence import feature_value
from bot.config import Settings
from evals import metrics
from evals.deployment import Result, deploy, fingerprint

FOLDS = 5
SEED = 0
# Inverse regularisation strength. With ~150 products of ~17 signals and a few hundred
# questions per set, C=1 overfits: averaged over five cross-validation seeds, C=0.1 gave the
# same or better resolution on both shared sets, a lower calibration error, and half the spread
# between seeds.
REGULARISATION_C = 0.1


def fit(X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Weights and bias on the raw signals (the standardisation is folded in); ``weight``
    is each row's weight in the fit (default 1)."""
    if len(set(y.tolist())) < 2:
        # One class only (a tiny fold): the best logistic model is the constant base rate.
        rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-3, 1 - 1e-3))
        return np.zeros(X.shape[1]), float(np.log(rate / (1 - rate)))
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=REGULARISATION_C, max_iter=10_000)
    model.fit((X - mean) / scale, y, sample_weight=weight)
    weights = model.coef_[0] / scale
    return weights, float(model.intercept_[0] - weights @ mean)


def predict(weights: np.ndarray, bias: float, X: np.ndarray) -> np.ndarray:
    return expit(X @ weights + bias)


def split(y: np.ndarray, groups: Sequence[str], folds: int = FOLDS) -> np.ndarray:
    """The fold of every row: stratified by label, grouped so a group stays in one fold."""
    fold_of = np.zeros(len(y), dtype=int)
    n_groups = len(set(groups))
    k = max(2, min(folds, n_groups, int(y.sum()), int(len(y) - y.sum())))
    if n_groups < 2:
        return fold_of
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=SEED)
    for i, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        fold_of[test] = i
    return fold_of


def out_of_fold(
    X: np.ndarray, y: np.ndarray, fold_of: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """Every row's confidence from a model fitted without its fold."""
    oof = np.zeros(len(y))
    for fold in np.unique(fold_of):
        test = fold_of == fold
        train = ~test if (~test).any() else test
        weights, bias = fit(X[train], y[train], None if weight is None else weight[train])
        oof[test] = predict(weights, bias, X[test])
    return oof


def fold_thresholds(
    X: np.ndarray,
    y: np.ndarray,
    answerable: np.ndarray,
    groups: np.ndarray,
    fold_of: np.ndarray,
    max_risk: float,
) -> np.ndarray:
    """Every row's threshold, picked without its fold (inner out-of-fold on the other folds)."""
    thresholds = np.zeros(len(y))
    for fold in np.unique(fold_of):
        test = fold_of == fold
        train = ~test if (~test).any() else test
        inner = out_of_fold(X[train], y[train], split(y[train], groups[train].tolist()))
        thresholds[test] = pick_threshold(inner, y[train], int(answerable[train].sum()), max_risk)
    return thresholds


def pick_threshold(
    confidences: np.ndarray, correct: np.ndarray, n_answerable: int, max_risk: float
) -> float:
    """The highest threshold with the best resolution whose wrong-answer rate is <= max_risk."""
    items = list(zip(confidences.tolist(), correct.astype(bool).tolist(), strict=True))
    point = metrics.best_point(items, n_answerable, max_risk)
    return min(1.0, point.threshold)


def balanced_weights(names: Sequence[str]) -> np.ndarray:
    """Row weights under which every knowledge base counts the same, whatever its size (mean
    weight 1): a big set of one kind must not set the threshold for every kind."""
    names = np.asarray(names)
    kinds, index, counts = np.unique(names, return_inverse=True, return_counts=True)
    return len(names) / (len(kinds) * counts[index])


def pick_balanced_threshold(
    confidences: np.ndarray,
    correct: np.ndarray,
    answerable: np.ndarray,
    weight: np.ndarray,
    max_risk: float,
) -> float:
    """``pick_threshold`` with weighted questions: the highest threshold with the best
    weighted resolution whose weighted wrong-answer rate is <= max_risk (else 1.0)."""
    order = np.argsort(-confidences, kind="stable")
    c, ok, w = confidences[order], correct[order].astype(bool), weight[order]
    right, wrong = np.cumsum(w * ok), np.cumsum(w * ~ok)
    last = np.r_[c[1:] != c[:-1], True]  # ties are never split
    rate = wrong / np.maximum(right + wrong, 1e-12)
    resolution = right / max(float((weight * answerable).sum()), 1e-12)
    allowed = last & (rate <= max_risk)
    if not allowed.any():
        return 1.0
    best = np.flatnonzero(allowed & (resolution == resolution[allowed].max()))[0]
    return min(1.0, float(c[best]))


def figures(confidences: np.ndarray, correct: np.ndarray, answerable: np.ndarray) -> dict:
    """Threshold-free figures of a set of confidences."""
    items = list(zip(confidences.tolist(), correct.astype(bool).tolist(), strict=True))
    n_answerable = int(answerable.sum())
    return {
        "questions": len(items),
        "auroc": metrics.auroc(confidences[answerable], confidences[~answerable]),
        "resolution_at_5pct": metrics.resolution_at_risk(items, n_answerable, 0.05),
        "resolution_at_10pct": metrics.resolution_at_risk(items, n_answerable, 0.10),
        "ece": metrics.ece(items),
    }


def policy_figures(
    confidences: np.ndarray, correct: np.ndarray, answerable: np.ndarray, thresholds: np.ndarray
) -> dict:
    answered = confidences >= thresholds
    decisions = [
        ("answer" if a else "handoff", bool(ok)) for a, ok in zip(answered, correct, strict=True)
    ]
    return metrics.default_policy(decisions, int(answerable.sum()))


def matrix(signals: Sequence[dict[str, float]], features: Sequence[str]) -> np.ndarray:
    """One row per turn, one column per feature, computed as the bot computes them."""
    rows = [[feature_value(s, f) for f in features] for s in signals]
    return np.array(rows, dtype=float).reshape(len(signals), len(features))


def with_interactions(names: Sequence[str]) -> list[str]:
    """The signals and every pairwise product (squares included): the signals' meaning shifts
    between knowledge bases, and a linear model alone cannot bend with it (compared under the
    same cross-validation, the products raised resolution at 5 % wrong on both shared sets)."""
    names = sorted(names)
    pairs = [f"{a}*{b}" for i, a in enumerate(names) for b in names[i:]]
    return names + pairs


def collect(datasets: Sequence[Path], settings: Settings | None = None) -> dict[str, list[Result]]:
    """Every turn of every dataset, by dataset name."""
    turns = {}
    for dataset in datasets:
        with deploy(dataset, settings) as deployment:
            turns[dataset.name] = deployment.ask_all()
    return turns


def fit_calibration(
    datasets: Sequence[Path],
    turns: dict[str, list[Result]],
    *,
    features: Sequence[str] | None = None,
    max_risk: float = 0.05,
) -> dict[str, Any]:
    """The calibration JSON the server loads, with its out-of-fold figures."""
    # Small talk has no signals and no confidence to judge: only retrieval turns are fitted.
    rows = [(n, r) for n, results in turns.items() for r in results if r.draft.kind == "retrieval"]
    features = list(features or with_interactions(rows[0][1].draft.signals))
    X = matrix([r.draft.signals for _, r in rows], features)
    y = np.array([r.correct for _, r in rows], dtype=int)
    answerable = np.array([r.question.answerable for _, r in rows])
    # Groups never span datasets: a doc id means nothing outside its own knowledge base.
    groups = [f"{name}:{r.group}" for name, r in rows]
    names = np.array([name for name, _ in rows])
    weight = balanced_weights(names)
    fold_of = split(y, groups)
    oof = out_of_fold(X, y, fold_of, weight)
    threshold = pick_balanced_threshold(oof, y, answerable, weight, max_risk)
    weights, bias = fit(X, y, weight)

    def report(mask: np.ndarray) -> dict[str, Any]:
        at = np.full(int(mask.sum()), threshold)
        return figures(oof[mask], y[mask], answerable[mask]) | {
            "policy_at_threshold": policy_figures(oof[mask], y[mask], answerable[mask], at)
        }

    held_out = {}
    for name in turns if len(turns) > 1 else ():
        # Fitted on the other knowledge bases only: how the calibration carries to a new one.
        test, train = names == name, names != name
        w, b = fit(X[train], y[train], weight[train])
        seen = predict(w, b, X[train])
        cut = pick_balanced_threshold(seen, y[train], answerable[train], weight[train], max_risk)
        confidences = predict(w, b, X[test])
        held_out[name] = figures(confidences, y[test], answerable[test]) | {
            "policy_at_threshold": policy_figures(
                confidences, y[test], answerable[test], np.full(int(test.sum()), cut)
            )
        }
    return {
        "features": features,
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "threshold": round(threshold, 6),
        "fitted_on": " + ".join(f"{d.name} (all {len(turns[d.name])} questions)" for d in datasets),
        "target_wrong_rate": max_risk,
        "datasets": [
            {
                "dataset": d.name,
                "questions": len(turns[d.name]),
                "fitted": sum(r.draft.kind == "retrieval" for r in turns[d.name]),
                "fingerprint": fingerprint(d),
            }
            for d in datasets
        ],
        "cross_validation": {
            "method": f"{len(set(fold_of.tolist()))}-fold stratified group k-fold, grouped by "
            "dataset and top retrieved document; threshold picked on the pooled out-of-fold "
            "confidences, each knowledge base weighted the same",
            "pooled": report(np.ones(len(rows), dtype=bool)),
            **{name: report(names == name) for name in turns},
        },
        "leave_one_set_out": held_out,
    }


def calibrate_datasets(
    datasets: Sequence[Path],
    out: Path,
    *,
    max_risk: float = 0.05,
    features: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Ask every question of every dataset, fit, and write the calibration JSON to ``out``."""
    turns = collect(datasets, settings)
    data = fit_calibration(datasets, turns, max_risk=max_risk, features=features)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    return data
