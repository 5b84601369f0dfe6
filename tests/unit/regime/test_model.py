"""The regime model: causal labels, persistent regimes, and the right regimes on real history."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from services.regime.domain.features import WARMUP_BARS, regime_features
from services.regime.domain.model import (
    DailySeries,
    FitSettings,
    FittedRegimes,
    RegimeModel,
    classify_series,
    fit_regimes,
    run_lengths,
)
from services.regime.domain.regimes import Regime
from services.runtime.errors import FailedPrecondition, InvalidArgument

TRAIN_END = datetime(2016, 12, 31, tzinfo=UTC)
STRESSED = {Regime.HIGH_VOL_STRESS, Regime.DOWNTREND}


@pytest.fixture(scope="module")
def model(dji: DailySeries) -> FittedRegimes:
    return fit_regimes([dji], None, TRAIN_END)


def share(
    series: DailySeries, labels: np.ndarray, start: str, end: str, regimes: set[Regime]
) -> float:
    lo, hi = (
        datetime.fromisoformat(start).replace(tzinfo=UTC),
        datetime.fromisoformat(end).replace(tzinfo=UTC),
    )
    picked = [int(v) for t, v in zip(series.times, labels, strict=True) if lo <= t <= hi]
    return float(np.mean([Regime(v) in regimes for v in picked]))


def cut(series: DailySeries, n: int) -> DailySeries:
    return DailySeries(series.symbol, series.times[:n], series.closes[:n])


def test_features_at_t_use_bars_up_to_t_only(dji: DailySeries) -> None:
    full = regime_features(dji.closes)
    changed = dji.closes.copy()
    changed[1500:] *= 1.7
    assert np.array_equal(regime_features(changed)[:1500], full[:1500], equal_nan=True)
    assert np.isnan(full[: WARMUP_BARS - 1]).all()
    assert not np.isnan(full[WARMUP_BARS - 1 :]).any()


def test_past_labels_do_not_change_when_later_bars_arrive(
    dji: DailySeries, model: FittedRegimes
) -> None:
    (full,) = classify_series(model, [dji])
    for n in (400, 1200, 2000):
        (part,) = classify_series(model, [cut(dji, n)])
        assert np.array_equal(part.labels, full.labels[:n])
        assert np.allclose(part.probabilities, full.probabilities[:n], equal_nan=True)


def test_regimes_persist_for_weeks_not_days(dji: DailySeries, model: FittedRegimes) -> None:
    (result,) = classify_series(model, [dji])
    labelled = result.labels[result.labels > 0]
    median = float(np.median(run_lengths(labelled)))
    assert median >= 10, f"median regime spell is {median} sessions"
    assert model.median_duration >= 10


def test_the_2011_and_2018_selloffs_are_stressed_and_2013_2017_calm_uptrends(
    dji: DailySeries, model: FittedRegimes
) -> None:
    """Fit on 2009-2016 only: 2017 and the 2018 sell-off are out of sample."""
    (result,) = classify_series(model, [dji])
    labels = result.labels
    assert share(dji, labels, "2011-08-01", "2011-10-31", STRESSED) >= 0.8
    assert share(dji, labels, "2018-10-01", "2018-12-31", STRESSED) >= 0.7
    assert share(dji, labels, "2013-01-01", "2013-12-31", {Regime.CALM_UPTREND}) >= 0.6
    assert share(dji, labels, "2017-01-01", "2017-12-31", {Regime.CALM_UPTREND}) >= 0.8


def test_probabilities_are_a_distribution(dji: DailySeries, model: FittedRegimes) -> None:
    (result,) = classify_series(model, [dji])
    p = result.probabilities[WARMUP_BARS - 1 :]
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (p >= 0).all()


def test_many_symbols_in_one_pass_match_one_at_a_time(
    dji: DailySeries, model: FittedRegimes
) -> None:
    shorter = DailySeries("LATE", dji.times[700:], dji.closes[700:] * 0.3)
    together = classify_series(model, [dji, shorter])
    alone = [classify_series(model, [s])[0] for s in (dji, shorter)]
    for a, b in zip(together, alone, strict=True):
        assert np.array_equal(a.labels, b.labels)
        assert np.allclose(a.probabilities, b.probabilities, equal_nan=True)


def test_a_window_too_short_to_fit_is_a_failed_precondition(dji: DailySeries) -> None:
    with pytest.raises(FailedPrecondition, match="at least"):
        fit_regimes([cut(dji, 600)], None, None)


def test_switch_probability_must_be_in_range() -> None:
    with pytest.raises(InvalidArgument, match="switch_probability"):
        FitSettings(switch_probability=0.3)


def test_fit_is_deterministic_and_round_trips_through_json(
    dji: DailySeries, model: FittedRegimes
) -> None:
    again = fit_regimes([dji], None, TRAIN_END)
    assert again.data_hash == model.data_hash
    assert np.allclose(again.params.transition, model.params.transition)
    record = RegimeModel("market", 1, model, datetime.now(UTC), None)
    restored = RegimeModel.fit_from_json(record.to_json())
    (a,) = classify_series(model, [dji])
    (b,) = classify_series(restored, [dji])
    assert np.array_equal(a.labels, b.labels)
