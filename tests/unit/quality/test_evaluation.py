"""The evaluation on real dow30 bars keeps its figures (a subset of symbols, to stay fast).

Figures for all 29 symbols are printed by bench/quality_eval.py and recorded in
docs/benchmarks.md.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from services.marketdata.domain.csv_formats import parse_csv
from services.quality.domain.evaluation import Evaluation, evaluate, split_history
from services.quality.domain.findings import Severity
from services.quality.domain.injection import AnomalyKind, inject
from tests.conftest import require_shared_data
from tests.unit.quality.helpers import market

SUBSET = ("AAPL", "CAT", "CVX", "GS", "JNJ", "KO", "MSFT", "VZ")

#: HIGH rows on the unmodified data, and why each is real. Anything else is a false alarm.
GENUINE: dict[tuple[str, date], str] = {
    ("CAT", date(2014, 11, 28)): "half-day session after OPEC's Thanksgiving no-cut: oil -10%",
    ("HD", date(2015, 11, 17)): "Home Depot Q3 2015 earnings beat and raised guidance",
    ("JNJ", date(2015, 8, 24)): "the 24 Aug 2015 opening crash: JNJ traded down to 81.79",
    ("JPM", date(2015, 8, 24)): "the 24 Aug 2015 opening crash: JPM traded down to 50.07",
    ("JNJ", date(2016, 5, 12)): "a bad low print (82.76 on a 113-115 day) in the source file",
    ("VZ", date(2014, 2, 24)): "Vodafone's distribution of Verizon shares: volume x47",
    ("KO", date(2014, 7, 22)): "Coca-Cola Q2 2014 earnings miss (flagged with 8 symbols only)",
}


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    folder = require_shared_data() / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in SUBSET])
    return evaluate(bars, history_sessions=250, compare=False)


@pytest.mark.parametrize(
    "kind",
    [AnomalyKind.SPIKE, AnomalyKind.UNADJUSTED_SPLIT, AnomalyKind.OHLC_CORRUPTION],
)
def test_spikes_splits_and_ohlc_corruption_are_found_precisely(
    evaluation: Evaluation, kind: AnomalyKind
) -> None:
    [score] = [s for s in evaluation.scores if s.kind is kind]
    assert score.injected >= 16
    assert score.recall >= 0.9, score
    assert score.precision >= 0.8, score


def test_stale_runs_and_missing_sessions_are_found(evaluation: Evaluation) -> None:
    for score in evaluation.scores:
        if score.kind in (AnomalyKind.STALE_RUN, AnomalyKind.MISSING_SESSIONS):
            assert score.recall >= 0.95 and score.precision >= 0.8, score


def test_the_largest_volume_bursts_are_found(evaluation: Evaluation) -> None:
    [(_, count, recall)] = evaluation.recall_by_size(AnomalyKind.VOLUME_BURST, [40.0, 101.0])
    assert count > 0 and recall >= 0.8


def test_every_high_on_the_unmodified_data_is_a_named_market_event(evaluation: Evaluation) -> None:
    flagged = {(f.symbol, f.time.date()) for f in evaluation.clean_flags}
    assert flagged <= set(GENUINE), flagged - set(GENUINE)
    assert all(f.severity >= Severity.HIGH and f.reasons for f in evaluation.clean_flags)
    assert evaluation.history_end.year == 2009  # checked from late 2009: flash crash included


def test_injection_is_seeded_and_records_where_to_look() -> None:
    bars = market(symbols=3, days=200)
    _, clean, start = split_history(bars, 100)
    first = inject(clean, AnomalyKind.MISSING_SESSIONS, after=start, per_symbol=2, seed=1)
    again = inject(clean, AnomalyKind.MISSING_SESSIONS, after=start, per_symbol=2, seed=1)
    assert first.bars.equals(again.bars) and first.injections == again.injections
    assert first.bars.num_rows < clean.num_rows and len(first.injections) == 6
    spikes = inject(clean, AnomalyKind.SPIKE, after=start, per_symbol=2, seed=1)
    for injection in spikes.injections:
        assert injection.targets[0] in injection.affected and len(injection.affected) == 2
        assert 0.1 <= injection.size <= 0.4
    split = inject(clean, AnomalyKind.UNADJUSTED_SPLIT, after=start, per_symbol=1, seed=1)
    assert all(len(i.affected) > 1 for i in split.injections)
    stamps = np.asarray(clean.column("time").cast(pa.int64()).to_numpy())
    start_us = int(start.timestamp() * 1e6)
    assert all(t >= start_us for i in spikes.injections for t in i.targets)
    assert stamps.min() >= start_us
