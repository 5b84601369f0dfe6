"""Tunable thresholds of the sentinel, with defaults per bar frequency.

Thresholds on robust z-scores come in fours: the LOW, MEDIUM, HIGH and CRITICAL levels (see
`findings.graded`). The daily defaults were set on the real dow30 data (2009–2018): see
docs/benchmarks.md for what they flag there and how they detect injected anomalies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from services.marketdata.domain.bar_table import Frequency
from services.quality.domain.findings import Severity

Levels = tuple[float, float, float, float]


@dataclass(frozen=True)
class RuleConfig:
    """Thresholds of the rule checks for one bar frequency."""

    window: int = 126
    """Trailing bars that make a symbol's history statistics."""
    min_history: int = 20
    """Fewer earlier bars than this: the outlier rules stay silent for the bar."""
    calendar: str | None = "XNYS"
    """Exchange calendar of the gap rule; None skips the rule (minute bars skip it anyway)."""
    max_future: timedelta = timedelta(days=1)
    """A bar stamped later than now plus this is a schema error."""
    stale_levels: Levels = (3, 4, 4, 1e9)
    """Run length of an unchanged close, this bar included: 3 is LOW, 4 or more HIGH."""
    flag_repeated_bars: bool = True
    """A bar whose open, high, low, close and volume all equal the previous bar's is stale."""
    zero_volume_severity: Severity = Severity.HIGH
    return_levels: Levels = (5.0, 6.0, 8.0, 20.0)
    """Robust z of the market-adjusted log return, per √sessions spanned."""
    confirm_volume_ratio: float = 2.0
    """Volume at least this multiple of the median confirms a large move as genuine news ..."""
    confirm_z_per_volume: float = 5.0
    """... and at least |return z| / this for bigger moves (a 40 σ jump needs x8 volume)."""
    confirmed_cap: Severity = Severity.LOW
    range_levels: Levels = (4.0, 6.0, 10.0, 1e9)
    """A wick (high above, or low below, the open and close) as a multiple of the symbol's
    median range; never CRITICAL alone."""
    market_wide_range_ratio: float = 2.0
    """A median wick ratio this high across the session's symbols marks market-wide turbulence."""
    volume_levels: Levels = (4.5, 6.0, 10.0, 1e9)
    """Robust z of log volume (above the median)."""
    volume_ratio_medium: float = 8.0
    volume_ratio_high: float = 20.0
    volume_ratio_critical: float = 500.0
    """Volume this many times the median looks like a unit error (shares vs lots)."""
    low_volume_levels: Levels = (6.0, 8.0, 12.0, 1e9)
    """Robust z of log volume below the median."""
    explain_return_z: float = 4.0
    """A bar whose return z reaches this explains its own volume burst."""
    split_ratios: tuple[float, ...] = (2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 1.5, 20.0)
    split_tolerance: float = 0.03
    """Log distance of the market-adjusted open and close moves from a split ratio (or its
    inverse), plus two (open) or four (close) of the symbol's return sigmas."""
    split_max_volume_ratio: float = 5.0
    """A split-like move with volume above this multiple (after the split factor) is a crash."""
    min_market_symbols: int = 5
    """Symbols needed in a session to use a cross-sectional (market) median."""
    return_floor: float = 0.001
    volume_floor: float = 0.05

    @classmethod
    def for_frequency(cls, frequency: Frequency) -> RuleConfig:
        """Daily defaults; minute bars skip the calendar rule and tolerate flat stretches."""
        if frequency is Frequency.MINUTE:
            return cls(
                window=120,
                calendar=None,
                stale_levels=(30, 60, 120, 1e9),
                flag_repeated_bars=False,
                zero_volume_severity=Severity.LOW,
                return_floor=0.0002,
            )
        return cls()


class IsolationMode(StrEnum):
    """One Isolation Forest per symbol, or one pooled over per-symbol normalised features."""

    PER_SYMBOL = "per_symbol"
    POOLED = "pooled"


class FeatureSpace(StrEnum):
    """Raw bar features (return, gap, range, log volume) or their trailing robust z-scores."""

    RAW = "raw"
    NORMALIZED = "normalized"


@dataclass(frozen=True)
class IsolationConfig:
    enabled: bool = True
    mode: IsolationMode = IsolationMode.POOLED
    features: FeatureSpace = FeatureSpace.NORMALIZED
    trees: int = 100
    max_samples: int = 256
    alert_quantile: float = 0.995
    """Training rows above this quantile of anomaly score are the model's alert level."""
    min_rows: int = 100
    seed: int = 7


@dataclass(frozen=True)
class ProphetConfig:
    enabled: bool = True
    horizon_sessions: int = 10
    """Sessions after the data end whose forecast is precomputed at fit time."""
    fit_sessions: int = 504
    """Trailing sessions a fit uses (about two years)."""
    min_rows: int = 60
    interval_width: float = 0.95
    uncertainty_samples: int = 300
    close_levels: Levels = (5.0, 8.0, 1e9, 1e9)
    """|z| of the log-close residual (LOW, MEDIUM): prices wander from a trend, so higher."""
    volume_levels: Levels = (4.0, 6.0, 1e9, 1e9)
    """|z| of the log-volume residual. Prophet alone says at most MEDIUM (ModelConfig)."""


@dataclass(frozen=True)
class ModelConfig:
    isolation: IsolationConfig = field(default_factory=IsolationConfig)
    prophet: ProphetConfig = field(default_factory=ProphetConfig)
    max_age: timedelta = timedelta(days=1)
    """A model fitted longer ago than this is refitted in the background."""
    history_sessions: int = 504
    """Sessions of history fetched for a fit."""
    model_cap: Severity = Severity.MEDIUM
    """The most a learned score says on its own."""
