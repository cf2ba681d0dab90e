import numpy as np
import pytest

from evals.calibrate import balanced_weights, pick_balanced_threshold, pick_threshold


def test_balanced_weights_give_every_set_the_same_total():
    weight = balanced_weights(["big", "big", "big", "small"])
    assert weight.tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3, 2.0])
    assert weight.mean() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_with_unit_weights_the_balanced_threshold_is_the_plain_one(seed):
    rng = np.random.default_rng(seed)
    confidences = np.round(rng.random(300), 2)  # rounded: ties, which are never split
    answerable = rng.random(300) < 0.7
    correct = answerable & (rng.random(300) < confidences)
    plain = pick_threshold(confidences, correct, int(answerable.sum()), 0.05)
    balanced = pick_balanced_threshold(confidences, correct, answerable, np.ones(300), 0.05)
    assert balanced == pytest.approx(plain)


def test_a_small_set_that_errs_more_counts_as_much_as_a_big_one():
    # Set A: 8 right answers at 0.9. Set B: 1 wrong at 0.6, 1 right at 0.5.
    confidences = np.array([0.9] * 8 + [0.6, 0.5])
    correct = np.array([True] * 8 + [False, True])
    answerable = np.ones(10, dtype=bool)
    # Pooled, answering down to 0.5 is 1 wrong in 10 (10 %); with B weighing as much as A,
    # 1 in 4 (25 %), so only set A's answers are given.
    assert pick_threshold(confidences, correct, 10, 0.10) == 0.5
    weight = balanced_weights(["a"] * 8 + ["b"] * 2)
    assert pick_balanced_threshold(confidences, correct, answerable, weight, 0.10) == 0.9
    assert pick_balanced_threshold(confidences, correct, answerable, weight, 0.30) == 0.5
    assert pick_balanced_threshold(confidences[8:], correct[8:], answerable[8:], weight[8:], 0) == 1
