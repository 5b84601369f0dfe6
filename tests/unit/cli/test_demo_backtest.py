"""The demo's time split and strategies: trading starts after the models' training window and
its label horizon, and both strategies are valid configs that differ only in their rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backtest.config import RuleSource
from backtest.validation import check
from services.cli.demo_backtest import (
    EMBARGO_SESSIONS,
    TRAINING_SHARE,
    split_sessions,
    strategies,
)


def sessions(count: int) -> list[datetime]:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    return [start + timedelta(days=i) for i in range(count)]


def test_trading_starts_after_the_training_window_and_the_label_horizon() -> None:
    days = sessions(1_000)
    split = split_sessions(days)
    assert split is not None
    trained = days.index(split.train_end) + 1
    assert trained == int(len(days) * TRAINING_SHARE)
    assert days.index(split.trade_start) - days.index(split.train_end) == EMBARGO_SESSIONS + 1
    assert split.trade_end == days[-1]


def test_too_few_sessions_leave_nothing_to_trade() -> None:
    assert split_sessions([]) is None
    assert split_sessions(sessions(40)) is None


def test_the_strategy_reads_signals_and_regimes_and_buy_and_hold_neither() -> None:
    split = split_sessions(sessions(1_000))
    assert split is not None
    configs = strategies(("A", "B", "C"), split, "model", "market/1")
    for config in configs.values():
        check(config)  # raises on an invalid config
        assert config.start == split.trade_start and config.end == split.trade_end
    ours, held = configs["signal_regime"], configs["buy_and_hold"]
    assert ours.uses(RuleSource.SIGNAL) and ours.uses(RuleSource.REGIME)
    assert ours.signal_model == "model@champion" and ours.regime_model == "market/1"
    assert not held.uses(RuleSource.SIGNAL) and not held.uses(RuleSource.REGIME)
    assert ours.costs == held.costs and ours.universe == held.universe
