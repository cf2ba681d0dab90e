"""Evaluation metrics: retrieval, handoff decisions, calibration and answer overlap.

The decision metrics follow ../shared/evaldata/tools/score.py exactly (the reference scorer):
a question counts as correct when it is answerable and the primary citation is a gold document;
a confidence threshold never splits equal confidences; ECE uses 10 equal-width bins.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

Scored = tuple[float, bool]  # (confidence, correct if answered)
Bin = tuple[float, float, float, float, int]  # lo, hi, mean confidence, accuracy, count


def recall_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 when any gold document is among the first k ranked ones."""
    return float(bool(set(gold) & set(ranked[:k])))


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str], k: int = 10) -> float:
    """1/rank of the first gold document within the first k, else 0 (MRR@k per question)."""
    golds = set(gold)
    return next((1.0 / (i + 1) for i, doc in enumerate(ranked[:k]) if doc in golds), 0.0)


def is_correct(*, answerable: bool, gold: Iterable[str], cited: Sequence[str]) -> bool:
    """An answer is right only for an answerable question with a gold primary citation."""
    return bool(answerable and cited and cited[0] in set(gold))


def auroc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(a random positive scores above a random negative), ties count one half."""
    if not len(pos) or not len(neg):
        return float("nan")
    values = np.concatenate([np.asarray(pos, float), np.asarray(neg, float)])
    ranks = _midranks(values)
    pos_rank_sum = ranks[: len(pos)].sum()
    return float((pos_rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _midranks(values: np.ndarray) -> np.ndarray:
    # Mann-Whitney with tied values sharing the mean of their ranks equals the pairwise count
    # with ties as one half, in O(n log n).
    order = values.argsort(kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values))
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


@dataclass(frozen=True)
class OperatingPoint:
    """Answer every question whose confidence is >= threshold."""

    threshold: float
    answered: int
    right: int
    wrong: int
    n_answerable: int

    @property
    def resolution(self) -> float:
        return self.right / max(1, self.n_answerable)

    @property
    def wrong_rate(self) -> float:
        return self.wrong / max(1, self.answered)


def sweep(items: Sequence[Scored], n_answerable: int) -> list[OperatingPoint]:
    """Every operating point from the highest threshold down (ties never split)."""
    ordered = sorted(items, key=lambda item: -item[0])
    points, right, wrong = [], 0, 0
    for i, (confidence, ok) in enumerate(ordered):
        right += ok
        wrong += not ok
        if i + 1 < len(ordered) and ordered[i + 1][0] == confidence:
            continue
        points.append(OperatingPoint(confidence, i + 1, right, wrong, n_answerable))
    return points


def best_point(items: Sequence[Scored], n_answerable: int, max_risk: float) -> OperatingPoint:
    """The threshold with the highest resolution whose wrong-answer rate stays <= max_risk.

    With no such threshold, a point above every confidence (answer nothing).
    """
    best = OperatingPoint(float("inf"), 0, 0, 0, n_answerable)
    for point in sweep(items, n_answerable):
        if point.wrong_rate <= max_risk and point.resolution > best.resolution:
            best = point
    return best


def resolution_at_risk(items: Sequence[Scored], n_answerable: int, max_risk: float) -> float:
    return best_point(items, n_answerable, max_risk).resolution


def ece(pairs: Sequence[Scored], bins: int = 10) -> float:
    """Expected calibration error over equal-width bins; 1.0 falls in the last bin."""
    if not pairs:
        return float("nan")
    return sum(n / len(pairs) * abs(conf - acc) for _, _, conf, acc, n in reliability(pairs, bins))


def reliability(pairs: Sequence[Scored], bins: int = 10) -> list[Bin]:
    """(lo, hi, mean confidence, accuracy, count) for every non-empty bin."""
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        sel = [(c, ok) for c, ok in pairs if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if sel:
            conf = sum(c for c, _ in sel) / len(sel)
            acc = sum(ok for _, ok in sel) / len(sel)
            rows.append((lo, hi, conf, acc, len(sel)))
    return rows


def default_policy(decisions: Sequence[tuple[str, bool]], n_answerable: int) -> dict[str, float]:
    """Figures of the decisions actually taken: (decision, correct) per question."""
    answered = [ok for decision, ok in decisions if decision == "answer"]
    right = sum(answered)
    return {
        "answered": len(answered),
        "resolution": right / max(1, n_answerable),
        "wrong_rate": (len(answered) - right) / max(1, len(answered)),
    }


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def _tokens(text: str) -> list[str]:
    # SQuAD normalisation: lower case, no punctuation, no articles, single spaces.
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 between an answer and a reference answer."""
    pred, ref = _tokens(prediction), _tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default); the median for q=50."""
    return float(np.percentile(np.asarray(values, float), q)) if len(values) else float("nan")
