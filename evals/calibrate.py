"""Calibration: fit how the engine's signals combine into the probability of a correct answer.

A logistic regression (scikit-learn) maps the signals to "answerable AND gold primary citation".
Figures are only ever reported out-of-fold: stratified group k-fold, where a group is the top
retrieved document, so near-duplicate questions (which retrieve the same passage) never sit on
both sides of a split. The threshold is picked on those out-of-fold confidences for a target
wrong-answer rate. Question texts are never looked at: only the signals and the labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from evals import metrics

FOLDS = 5
SEED = 0


def fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias on the raw signals (the standardisation is folded in)."""
    if len(set(y.tolist())) < 2:
        # One class only (a tiny fold): the best logistic model is the constant base rate.
        rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-3, 1 - 1e-3))
        return np.zeros(X.shape[1]), float(np.log(rate / (1 - rate)))
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000).fit((X - mean) / scale, y)
    weights = model.coef_[0] / scale
    return weights, float(model.intercept_[0] - weights @ mean)


def predict(weights: np.ndarray, bias: float, X: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(X @ weights + bias)))


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


def out_of_fold(X: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """Every row's confidence from a model fitted without its fold."""
    oof = np.zeros(len(y))
    for fold in np.unique(fold_of):
        test = fold_of == fold
        train = ~test if (~test).any() else test
        weights, bias = fit(X[train], y[train])
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
    """The lowest threshold with the best resolution whose wrong-answer rate is <= max_risk."""
    items = list(zip(confidences.tolist(), correct.astype(bool).tolist(), strict=True))
    point = metrics.best_point(items, n_answerable, max_risk)
    return min(1.0, point.threshold)


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
