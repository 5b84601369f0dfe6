"""The fixed set of regimes every model answers in, and where each sits in feature space."""

from __future__ import annotations

from enum import IntEnum


class Regime(IntEnum):
    """Market regimes, numbered as in the contract (quantmesh.regime.v1.Regime)."""

    CALM_UPTREND = 1
    RANGE_BOUND = 2
    DOWNTREND = 3
    HIGH_VOL_STRESS = 4

    @property
    def column(self) -> str:
        """Its probability column in history tables, e.g. `p_calm_uptrend`."""
        return f"p_{self.name.lower()}"

    @classmethod
    def parse(cls, text: str) -> Regime:
        return cls[text.strip().upper().removeprefix("REGIME_")]


#: Hidden states in order: state i is REGIMES[i].
REGIMES: tuple[Regime, ...] = tuple(Regime)

DESCRIPTIONS: dict[Regime, str] = {
    Regime.CALM_UPTREND: "above the long-term average, near the 1-year high, low volatility",
    Regime.RANGE_BOUND: "no clear trend, ordinary volatility, somewhat below the 1-year high",
    Regime.DOWNTREND: "below the long-term average and in a drawdown, ordinary volatility",
    Regime.HIGH_VOL_STRESS: "volatility far above normal, usually in a deep drawdown",
}

#: Where each regime's state mean is anchored: the training quantile of every feature
#: (trend, volatility, drawdown), so a state always means the same regime whatever the data.
PROTOTYPE_QUANTILES: dict[Regime, tuple[float, float, float]] = {
    Regime.CALM_UPTREND: (0.75, 0.25, 0.85),
    Regime.RANGE_BOUND: (0.45, 0.50, 0.50),
    Regime.DOWNTREND: (0.15, 0.60, 0.20),
    Regime.HIGH_VOL_STRESS: (0.10, 0.95, 0.10),
}
