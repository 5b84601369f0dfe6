"""The seeded synthetic market: valid, deterministic bars whose statistics look like a market."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.bar_table import (
    BAR_SCHEMA,
    TIME_TYPE,
    normalize_bars,
    sort_bars,
    validate_bars,
)
from services.marketdata.domain.synthetic import (
    REGIMES,
    SyntheticMarket,
    generate_market,
    transition_matrix,
)
from services.runtime.errors import InvalidArgument


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    """The default market, as `quantmesh demo` embeds it (30 symbols x 1,260 sessions)."""
    return generate_market()


@pytest.fixture(scope="module")
def frames(market: SyntheticMarket) -> dict[str, pd.DataFrame]:
    """Wide frames (sessions x symbols) of each bar column, plus log returns."""
    bars = market.bars.to_pandas()
    wide = {
        column: bars.pivot(index="time", columns="symbol", values=column)
        for column in ("open", "high", "low", "close", "volume")
    }
    wide["returns"] = log(wide["close"]).diff()
    return wide


@pytest.fixture(scope="module")
def regime_per_session(market: SyntheticMarket) -> np.ndarray:
    return np.asarray(market.regimes.column("regime").to_pylist())


def log(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(np.log(frame))


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def run_lengths(labels: np.ndarray) -> np.ndarray:
    changes = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    return np.diff(np.concatenate([[0], changes, [len(labels)]]))


class TestLayout:
    def test_bars_are_valid_sorted_bar_schema(self, market: SyntheticMarket) -> None:
        bars = market.bars

        assert bars.schema == BAR_SCHEMA
        assert bars.num_rows == 30 * 1260
        assert bars.equals(sort_bars(bars))
        assert normalize_bars(bars).equals(bars)
        validate_bars(bars)

    def test_symbols_are_named_deterministically(self, market: SyntheticMarket) -> None:
        assert market.symbols == [f"SYN{i:03d}" for i in range(1, 31)]
        assert sorted(set(market.bars.column("symbol").to_pylist())) == market.symbols

    def test_symbol_names_widen_to_stay_sorted(self) -> None:
        wide = generate_market(n_symbols=1000, n_days=2)

        assert wide.symbols[0] == "SYN0001"
        assert wide.symbols[-1] == "SYN1000"
        assert wide.symbols == sorted(wide.symbols)
        validate_bars(wide.bars)

    def test_sessions_are_consecutive_weekdays_at_midnight_utc(
        self, market: SyntheticMarket
    ) -> None:
        sessions = market.regimes.column("time").to_pylist()

        assert len(sessions) == 1260
        assert sessions[0] == datetime(2019, 1, 2, tzinfo=UTC)
        assert all(t.weekday() < 5 for t in sessions)
        assert all((t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0) for t in sessions)
        gaps = {(b - a).days for a, b in pairwise(sessions)}
        assert gaps == {1, 3}  # Mon-Fri next day, Fri -> Mon over the weekend
        per_symbol = market.bars.filter(pc.equal(market.bars.column("symbol"), "SYN001"))
        assert per_symbol.column("time").to_pylist() == sessions

    def test_a_weekend_start_rolls_forward_to_monday(self) -> None:
        weekend = generate_market(n_symbols=2, n_days=3, start=date(2024, 1, 6))  # a Saturday

        assert weekend.regimes.column("time").to_pylist() == [
            datetime(2024, 1, d, tzinfo=UTC) for d in (8, 9, 10)
        ]

    def test_regime_table(self, market: SyntheticMarket) -> None:
        regimes = market.regimes

        assert regimes.schema.field("time").type == TIME_TYPE
        assert regimes.schema.field("regime").type == pa.string()
        assert set(regimes.column("regime").to_pylist()) == set(REGIMES)  # all four occur

    def test_adj_close_equals_close_and_volumes_are_whole(self, market: SyntheticMarket) -> None:
        bars = market.bars
        volume = bars.column("volume").to_numpy()

        assert bars.column("adj_close").equals(bars.column("close"))
        assert np.array_equal(volume, np.round(volume))
        assert volume.min() >= 100

    @pytest.mark.parametrize(("n_symbols", "n_days"), [(0, 10), (3, 0)])
    def test_sizes_must_be_positive(self, n_symbols: int, n_days: int) -> None:
        with pytest.raises(InvalidArgument):
            generate_market(n_symbols=n_symbols, n_days=n_days)


class TestDeterminism:
    def test_same_seed_same_bytes(self) -> None:
        first = generate_market(n_symbols=8, n_days=300, seed=11)
        second = generate_market(n_symbols=8, n_days=300, seed=11)

        assert ipc_bytes(first.bars) == ipc_bytes(second.bars)
        assert ipc_bytes(first.regimes) == ipc_bytes(second.regimes)
        assert first.symbols == second.symbols

    def test_other_seed_other_market(self) -> None:
        first = generate_market(n_symbols=8, n_days=300, seed=11)
        other = generate_market(n_symbols=8, n_days=300, seed=12)

        assert not first.bars.column("close").equals(other.bars.column("close"))


class TestRegimes:
    def test_transition_matrix_is_stochastic_and_persistent(self) -> None:
        matrix = transition_matrix()

        assert matrix.shape == (4, 4)
        assert np.allclose(matrix.sum(axis=1), 1.0)
        expected_duration = 1.0 / (1.0 - np.diag(matrix))
        assert expected_duration.min() >= 10  # tens of sessions

    def test_regimes_persist(self, regime_per_session: np.ndarray) -> None:
        runs = run_lengths(regime_per_session)

        assert np.median(runs) >= 10
        assert len(runs) >= 5  # but they do change

    def test_stress_is_more_volatile_than_calm(
        self, frames: dict[str, pd.DataFrame], regime_per_session: np.ndarray
    ) -> None:
        market_return = frames["returns"].mean(axis=1).to_numpy()[1:]
        regime = regime_per_session[1:]

        calm = market_return[regime == "calm_up"].std()
        stress = market_return[regime == "stress"].std()
        down = market_return[regime == "down_trend"].std()
        assert stress > 1.5 * calm
        assert down > calm

    def test_drifts_match_the_regime_names(
        self, frames: dict[str, pd.DataFrame], regime_per_session: np.ndarray
    ) -> None:
        market_return = frames["returns"].mean(axis=1).to_numpy()[1:]
        regime = regime_per_session[1:]

        assert market_return[regime == "calm_up"].mean() > 0
        assert market_return[regime == "down_trend"].mean() < 0
        assert market_return[regime == "stress"].mean() < 0
        range_bound = market_return[regime == "range_bound"].mean()
        assert abs(range_bound) < market_return[regime == "calm_up"].mean()


class TestCrossSection:
    def test_returns_are_positively_correlated(self, frames: dict[str, pd.DataFrame]) -> None:
        corr = frames["returns"].iloc[1:].corr().to_numpy()
        n = corr.shape[0]

        mean_pairwise = (corr.sum() - n) / (n * n - n)
        assert mean_pairwise > 0.15
        assert mean_pairwise < 0.8  # still many distinct stocks, not one

    def test_returns_have_fat_tails(self, frames: dict[str, pd.DataFrame]) -> None:
        excess_kurtosis = frames["returns"].iloc[1:].kurt()

        assert excess_kurtosis.median() > 1.0

    def test_volume_rises_with_the_size_of_the_move(self, frames: dict[str, pd.DataFrame]) -> None:
        moves = frames["returns"].iloc[1:].abs()
        volume = frames["volume"].iloc[1:]

        correlations = [np.corrcoef(moves[s], volume[s])[0, 1] for s in moves.columns]
        assert np.mean(correlations) > 0.2

    def test_volume_levels_differ_across_symbols_and_autocorrelate(
        self, frames: dict[str, pd.DataFrame]
    ) -> None:
        log_volume = log(frames["volume"])

        medians = log_volume.median()
        assert medians.max() - medians.min() > 1.0  # log-normal spread of liquidity
        lag1 = [log_volume[s].autocorr(lag=1) for s in log_volume.columns]
        assert np.mean(lag1) > 0.2

    def test_volume_is_higher_in_stress(
        self, frames: dict[str, pd.DataFrame], regime_per_session: np.ndarray
    ) -> None:
        log_volume = log(frames["volume"]).mean(axis=1).to_numpy()

        assert log_volume[regime_per_session == "stress"].mean() > (
            log_volume[regime_per_session == "calm_up"].mean()
        )

    def test_opens_gap_a_little_from_the_previous_close(
        self, frames: dict[str, pd.DataFrame]
    ) -> None:
        gap = log(frames["open"] / frames["close"].shift()).iloc[1:].abs()
        move = frames["returns"].iloc[1:].abs()

        assert (gap.median() < move.median()).all()
        assert (gap.median() > 0).all()

    def test_intraday_range_scales_with_volatility(
        self, frames: dict[str, pd.DataFrame], regime_per_session: np.ndarray
    ) -> None:
        log_range = log(frames["high"] / frames["low"]).mean(axis=1).to_numpy()

        assert log_range[regime_per_session == "stress"].mean() > 1.5 * (
            log_range[regime_per_session == "calm_up"].mean()
        )


def test_a_large_market_generates_in_seconds() -> None:
    started = time.perf_counter()
    large = generate_market(n_symbols=500, n_days=2520)
    elapsed = time.perf_counter() - started

    assert large.bars.num_rows == 500 * 2520
    assert elapsed < 5.0, f"500 x 2520 took {elapsed:.2f}s"
