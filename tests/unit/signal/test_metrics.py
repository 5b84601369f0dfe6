"""Out-of-sample metrics on small inputs checked by hand and against scipy / scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import log_loss, roc_auc_score

from services.signal.domain.metrics import Metrics, daily_ic, evaluate, leak_warnings

# Two dates. Date 1: score (1, 2, 3) vs return (1, 3, 2): Pearson = Spearman = 0.5.
# Date 2: score (3, 1, 2, 4) vs return (.4, .1, .2, .3): Pearson = 0.4 / 0.5 = 0.8, Spearman 0.8.
TIMES = np.array([1, 1, 1, 2, 2, 2, 2])
SCORE = np.array([1.0, 2.0, 3.0, 3.0, 1.0, 2.0, 4.0])
RETURN = np.array([1.0, 3.0, 2.0, 0.4, 0.1, 0.2, 0.3])


def test_daily_ic_by_hand() -> None:
    assert daily_ic(TIMES, SCORE, RETURN) == pytest.approx([0.5, 0.8])
    assert daily_ic(TIMES, SCORE, RETURN, rank=True) == pytest.approx([0.5, 0.8])


def test_ic_icir_and_hit_rate_by_hand() -> None:
    m = evaluate(TIMES, SCORE - 2.5, RETURN - 0.5, probability=False)
    assert m.rows == 7 and m.dates == 2
    assert m.ic == pytest.approx(0.65)
    assert m.ic_std == pytest.approx(0.3 / math.sqrt(2))
    assert m.icir == pytest.approx(0.65 / (0.3 / math.sqrt(2)))  # per bar, not annualized
    assert m.rank_ic == pytest.approx(0.65)
    # predicted up: score > 2.5 → F F T T F F T; realized up: return > 0.5 → T T T F F F F
    assert m.hit_rate == pytest.approx(3 / 7)
    assert m.up_rate == pytest.approx(3 / 7)
    # up rows: 1 of 3 right; down rows: 2 of 4 right
    assert m.balanced_hit_rate == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert m.log_loss is None


def test_hit_rate_of_probabilities_uses_one_half() -> None:
    times = np.array([1, 1, 1, 1])
    probability = np.array([0.6, 0.4, 0.7, 0.45])
    returns = np.array([0.05, 0.01, -0.02, -0.03])  # up, up, down, down
    m = evaluate(times, probability, returns, probability=True)
    assert m.hit_rate == pytest.approx(0.5)  # right on rows 0 and 3
    up = returns > 0
    assert m.auc == pytest.approx(roc_auc_score(up, probability))
    assert m.log_loss == pytest.approx(log_loss(up, probability))


def test_matches_scipy_on_random_cross_sections() -> None:
    rng = np.random.default_rng(3)
    times = np.repeat(np.arange(40), 25)
    score = rng.normal(size=times.size)
    score[::7] = np.round(score[::7], 1)  # some ties
    target = 0.2 * score + rng.normal(size=times.size)
    ic = daily_ic(times, score, target)
    rank_ic = daily_ic(times, score, target, rank=True)
    for d in range(40):
        on = times == d
        assert ic[d] == pytest.approx(stats.pearsonr(score[on], target[on])[0])
        assert rank_ic[d] == pytest.approx(stats.spearmanr(score[on], target[on])[0])
    m = evaluate(times, score, target, probability=False)
    assert m.auc == pytest.approx(roc_auc_score(target > 0, score))


def test_thin_or_flat_cross_sections_and_missing_values_are_left_out() -> None:
    times = np.array([1, 1, 2, 2, 2, 3, 3, 3, 3])
    score = np.array([1.0, 2.0, 5.0, 5.0, 5.0, 1.0, 2.0, np.nan, 3.0])
    target = np.array([1.0, 2.0, 1.0, 2.0, 3.0, 1.0, 2.0, 9.0, 3.0])
    # date 1: two names (< 3); date 2: constant score; date 3: NaN row dropped, 3 left
    assert daily_ic(times, score, target).tolist() == pytest.approx([1.0])
    m = evaluate(times, score, target, probability=False)
    assert m.rows == 8 and m.dates == 1 and m.icir is None


def test_auc_and_log_loss_are_none_when_undefined() -> None:
    m = evaluate(
        np.array([1, 1, 1]), np.array([0.6, 0.7, 0.8]), np.array([0.1, 0.2, 0.3]), probability=True
    )
    assert m.auc is None and m.log_loss is not None
    empty = evaluate(np.array([]), np.array([]), np.array([]), probability=True)
    assert (empty.rows, empty.ic, empty.hit_rate, empty.auc, empty.log_loss) == (
        0,
        None,
        None,
        None,
        None,
    )


def _metrics(hit_rate: float, ic: float, balanced: float | None = None) -> Metrics:
    balanced = hit_rate if balanced is None else balanced
    return Metrics(1000, 100, ic, 0.1, ic / 0.1, ic, 1.0, hit_rate, balanced, 0.5, 0.5, 0.69)


def test_the_leak_warning_fires_on_results_too_good_to_be_true() -> None:
    assert leak_warnings(_metrics(0.53, 0.03)) == []
    assert leak_warnings(_metrics(0.60, 0.15)) == []  # at the thresholds: quiet
    [warning] = leak_warnings(_metrics(0.62, 0.02))
    assert "hit rate 62.0%" in warning
    [warning] = leak_warnings(_metrics(0.52, 0.2))
    assert "IC 0.200" in warning
    assert len(leak_warnings(_metrics(0.35, -0.4))) == 2  # a flipped leak is still a leak


def test_drift_alone_does_not_look_like_a_leak() -> None:
    times = np.repeat(np.arange(50), 10)
    returns = np.random.default_rng(2).normal(0.004, 0.01, times.size)  # ~65% of moves up
    always_up = np.full(times.size, 0.7)
    m = evaluate(times, always_up, returns, probability=True)
    assert m.up_rate is not None and m.up_rate > 0.6
    assert m.hit_rate == pytest.approx(m.up_rate)
    assert m.balanced_hit_rate == pytest.approx(0.5)
    assert leak_warnings(m) == []
    assert leak_warnings(_metrics(0.66, 0.02, balanced=0.52)) == []
    assert len(leak_warnings(_metrics(0.66, 0.02, balanced=0.64))) == 1


def test_as_dict_leaves_out_undefined_metrics() -> None:
    m = Metrics(10, 2, 0.1, None, None, 0.2, None, 0.5, None, None, None, None)
    assert m.as_dict() == {"rows": 10.0, "dates": 2.0, "ic": 0.1, "rank_ic": 0.2, "hit_rate": 0.5}
