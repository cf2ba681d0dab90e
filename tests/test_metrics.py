import math
import random

import pytest

from evals import metrics


def test_recall_and_reciprocal_rank():
    ranked = ["a", "b", "c", "d"]
    assert metrics.recall_at_k(ranked, ["c"], 1) == 0.0
    assert metrics.recall_at_k(ranked, ["c"], 3) == 1.0
    assert metrics.reciprocal_rank(ranked, ["x", "c"]) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank(ranked, ["d"], k=3) == 0.0


def test_is_correct_needs_answerable_and_gold_primary():
    assert metrics.is_correct(answerable=True, gold=["a"], cited=["a", "b"])
    assert not metrics.is_correct(answerable=True, gold=["a"], cited=["b", "a"])
    assert not metrics.is_correct(answerable=True, gold=["a"], cited=[])
    assert not metrics.is_correct(answerable=False, gold=[], cited=["a"])


def _pairwise_auroc(pos, neg):
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_auroc_matches_pairwise_count_with_ties():
    rng = random.Random(7)
    pos = [rng.choice([0.1, 0.5, 0.5, 0.9, 0.7]) for _ in range(40)]
    neg = [rng.choice([0.1, 0.2, 0.5, 0.7]) for _ in range(35)]
    assert metrics.auroc(pos, neg) == pytest.approx(_pairwise_auroc(pos, neg))
    assert metrics.auroc([1.0], [0.0]) == 1.0
    assert math.isnan(metrics.auroc([], [0.3]))


def test_sweep_never_splits_ties():
    items = [(0.9, True), (0.8, True), (0.8, False), (0.2, True)]
    points = metrics.sweep(items, n_answerable=4)
    assert [(p.threshold, p.answered, p.right, p.wrong) for p in points] == [
        (0.9, 1, 1, 0),
        (0.8, 3, 2, 1),
        (0.2, 4, 3, 1),
    ]


def test_resolution_at_risk_picks_best_threshold_within_risk():
    # answering down to 0.8 keeps 1 wrong in 3 (33 %): over 10 % risk, so only 0.9 is allowed
    items = [(0.9, True), (0.8, True), (0.8, False), (0.2, True)]
    assert metrics.resolution_at_risk(items, 5, 0.10) == pytest.approx(1 / 5)
    assert metrics.resolution_at_risk(items, 5, 0.34) == pytest.approx(3 / 5)
    point = metrics.best_point(items, 5, 0.34)
    assert (point.threshold, point.wrong_rate) == (0.2, 0.25)


def test_best_point_answers_nothing_when_every_threshold_is_too_risky():
    point = metrics.best_point([(0.9, False), (0.5, True)], 1, 0.05)
    assert point.answered == 0 and point.threshold == math.inf and point.resolution == 0.0


def test_ece_equal_width_bins_and_one_in_last_bin():
    pairs = [(0.95, True), (1.0, True), (0.15, False), (0.15, True)]
    # bin 9: mean conf 0.975, accuracy 1; bin 1: mean conf 0.15, accuracy 0.5
    expected = 0.5 * 0.025 + 0.5 * 0.35
    assert metrics.ece(pairs) == pytest.approx(expected)
    rows = metrics.reliability(pairs)
    assert [(r[0], r[4]) for r in rows] == [(0.1, 2), (0.9, 2)]


def test_default_policy_counts_only_answers():
    decisions = [("answer", True), ("answer", False), ("handoff", True), ("clarify", False)]
    figures = metrics.default_policy(decisions, n_answerable=4)
    assert figures == {"answered": 2, "resolution": 0.25, "wrong_rate": 0.5}


def test_token_f1_normalises_like_squad():
    assert metrics.token_f1("The Eiffel Tower!", "eiffel tower") == 1.0
    assert metrics.token_f1("red car", "blue car") == pytest.approx(0.5)
    assert metrics.token_f1("", "") == 1.0
    assert metrics.token_f1("yes", "") == 0.0


def test_percentile_interpolates():
    assert metrics.percentile([1, 2, 3, 4], 50) == 2.5
    assert metrics.percentile([0, 10], 95) == pytest.approx(9.5)
