"""Requests to the forecast domain (clients build them too), their defaults and validation.

Validation raises InvalidArgument (or ResourceExhausted for sizes over the limits) naming the
field as the protobuf request spells it (`horizon`, `percentiles[2]`, `series.returns[7]`), so
the same message reaches a caller of the domain object and a gRPC client.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from services.forecast.domain.bands import DEFAULT_PERCENTILES
from services.forecast.domain.kpis import ALL_KPIS, DAILY_PERIODS_PER_YEAR, Kpi
from services.forecast.domain.limits import ForecastLimits, too_large
from services.forecast.domain.methods import Method
from services.forecast.domain.returns import MIN_RETURNS, ReturnSeries
from services.runtime.errors import InvalidArgument

#: Fewest paths a forecast is read from: fewer make percentiles meaningless.
MIN_PATHS = 20
#: Most percentiles in one request.
MAX_PERCENTILES = 99
#: Most horizons, and bands, in one calibration.
MAX_HORIZONS = 8
MAX_BANDS = 20
DEFAULT_CALIBRATION_PERCENTILES: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0)
DEFAULT_HORIZON = 20
DEFAULT_MIN_HISTORY = 252
DEFAULT_ORIGIN_STEP = 20
DEFAULT_CALIBRATION_PATHS = 1_000
DEFAULT_METHODS: tuple[Method, ...] = (Method.BOOTSTRAP,)
DEFAULT_CALIBRATION_METHODS: tuple[Method, ...] = (Method.BOOTSTRAP, Method.QUANTILE_REGRESSION)


@dataclass(frozen=True)
class Band:
    """A central interval between two percentiles, e.g. the 80% band Band(10, 90)."""

    lower: float
    upper: float

    @property
    def nominal(self) -> float:
        """The share of outcomes a calibrated band holds: (upper - lower) / 100."""
        return (self.upper - self.lower) / 100.0

    def __str__(self) -> str:
        return f"[{self.lower:g}, {self.upper:g}]"


DEFAULT_BANDS: tuple[Band, ...] = (Band(10, 90), Band(5, 95), Band(25, 75))


@dataclass(frozen=True, eq=False)
class ForecastRequest:
    """KPI bands over the next `horizon` bars of `series` (or of backtest `backtest_id`).

    Zeros and empty sequences take the documented defaults (see the proto's comments).
    """

    series: ReturnSeries | None = None
    backtest_id: str = ""
    horizon: int = 0
    percentiles: Sequence[float] = ()
    methods: Sequence[Method] = ()
    paths: int = 0
    seed: int = 0
    mean_block_length: float = 0.0
    periods_per_year: int = 0
    lookback: int = 0


@dataclass(frozen=True, eq=False)
class CalibrationRequest:
    """A rolling-origin evaluation of the bands on `series` (or backtest `backtest_id`)."""

    series: ReturnSeries | None = None
    backtest_id: str = ""
    horizons: Sequence[int] = ()
    methods: Sequence[Method] = ()
    percentiles: Sequence[float] = ()
    bands: Sequence[Band] = ()
    kpis: Sequence[Kpi] = ()
    min_history: int = 0
    origin_step: int = 0
    paths: int = 0
    seed: int = 0
    mean_block_length: float = 0.0
    periods_per_year: int = 0
    lookback: int = 0


@dataclass(frozen=True)
class Simulating:
    """The validated knobs every simulation shares."""

    methods: tuple[Method, ...]
    paths: int
    seed: int
    mean_block_length: float
    periods_per_year: int
    lookback: int


@dataclass(frozen=True)
class ForecastSpec:
    horizon: int
    percentiles: tuple[float, ...]
    simulating: Simulating


@dataclass(frozen=True)
class CalibrationSpec:
    horizons: tuple[int, ...]
    percentiles: tuple[float, ...]
    bands: tuple[Band, ...]
    kpis: tuple[Kpi, ...]
    min_history: int
    origin_step: int
    simulating: Simulating

    @property
    def evaluated_percentiles(self) -> tuple[float, ...]:
        """The requested percentiles and every band edge, ascending, once each."""
        edges = [p for band in self.bands for p in (band.lower, band.upper)]
        return tuple(sorted(set(self.percentiles) | set(edges)))


def check_source(series: ReturnSeries | None, backtest_id: str) -> None:
    if series is None and not backtest_id:
        raise InvalidArgument.for_field("source", "send `series` (the returns) or `backtest_id`")
    if series is not None and backtest_id:
        raise InvalidArgument.for_field("source", "send `series` or `backtest_id`, not both")


def _percentiles(
    values: Sequence[float], field: str, default: tuple[float, ...]
) -> tuple[float, ...]:
    if len(values) == 0:
        return default
    if len(values) > MAX_PERCENTILES:
        raise InvalidArgument.for_field(
            field, f"has {len(values)} entries; at most {MAX_PERCENTILES}"
        )
    chosen = tuple(float(v) for v in values)
    for i, p in enumerate(chosen):
        if not (math.isfinite(p) and 0.0 < p < 100.0):
            raise InvalidArgument.for_field(f"{field}[{i}]", f"is {p}; percentiles lie in (0, 100)")
        if i and p <= chosen[i - 1]:
            problem = "repeats" if p == chosen[i - 1] else "is below"
            raise InvalidArgument.for_field(
                f"{field}[{i}]",
                f"{p} {problem} {field}[{i - 1}]; percentiles must be strictly increasing",
            )
    return chosen


def _horizon(value: int, field: str, limits: ForecastLimits) -> int:
    if value < 1:
        raise InvalidArgument.for_field(field, f"is {value}; a horizon is at least 1 bar")
    if value > limits.max_horizon:
        raise InvalidArgument.for_field(
            field, f"is {value}; the server forecasts at most {limits.max_horizon} bars ahead"
        )
    return value


def _unique(values: Sequence[object], field: str, kind: type) -> None:
    seen: set[object] = set()
    for i, value in enumerate(values):
        if not isinstance(value, kind):
            raise InvalidArgument.for_field(f"{field}[{i}]", f"{value!r} is not a {kind.__name__}")
        if value in seen:
            raise InvalidArgument.for_field(f"{field}[{i}]", f"{value} is listed twice")
        seen.add(value)


def _simulating(
    methods: Sequence[Method],
    default_methods: tuple[Method, ...],
    paths: int,
    default_paths: int,
    horizon: int,
    seed: int,
    mean_block_length: float,
    periods_per_year: int,
    lookback: int,
    limits: ForecastLimits,
) -> Simulating:
    _unique(methods, "methods", Method)
    if paths < 0:
        raise InvalidArgument.for_field("paths", f"is {paths}; must be 0 (default) or positive")
    chosen_paths = paths or default_paths
    if chosen_paths < MIN_PATHS:
        raise InvalidArgument.for_field(
            "paths", f"is {chosen_paths}; bands need at least {MIN_PATHS} paths"
        )
    if chosen_paths > limits.max_paths:
        raise too_large(
            "paths",
            f"is {chosen_paths}; the server simulates at most {limits.max_paths} paths",
            limits.max_paths,
            chosen_paths,
        )
    if chosen_paths * horizon > limits.max_path_cells:
        raise too_large(
            "paths",
            f"{chosen_paths} paths x {horizon} bars exceeds the server's "
            f"{limits.max_path_cells} simulated cells per forecast; ask for fewer paths",
            limits.max_path_cells,
            chosen_paths * horizon,
        )
    if not 0 <= seed < 2**64:
        raise InvalidArgument.for_field("seed", f"is {seed}; seeds are unsigned 64-bit integers")
    if not math.isfinite(mean_block_length) or (0 < mean_block_length < 1) or mean_block_length < 0:
        raise InvalidArgument.for_field(
            "mean_block_length",
            f"is {mean_block_length}; must be 0 (automatic) or at least 1 bar",
        )
    if periods_per_year < 0:
        raise InvalidArgument.for_field(
            "periods_per_year", f"is {periods_per_year}; must be 0 (252) or positive"
        )
    if lookback < 0 or 0 < lookback < MIN_RETURNS:
        raise InvalidArgument.for_field(
            "lookback", f"is {lookback}; must be 0 (all) or at least {MIN_RETURNS} returns"
        )
    return Simulating(
        methods=tuple(methods) or default_methods,
        paths=chosen_paths,
        seed=int(seed),
        mean_block_length=float(mean_block_length),
        periods_per_year=periods_per_year or DAILY_PERIODS_PER_YEAR,
        lookback=lookback,
    )


def forecast_spec(request: ForecastRequest, limits: ForecastLimits) -> ForecastSpec:
    """The request's knobs, validated, with defaults filled in (the series is checked later)."""
    check_source(request.series, request.backtest_id)
    horizon = _horizon(request.horizon, "horizon", limits)
    return ForecastSpec(
        horizon=horizon,
        percentiles=_percentiles(request.percentiles, "percentiles", DEFAULT_PERCENTILES),
        simulating=_simulating(
            request.methods,
            DEFAULT_METHODS,
            request.paths,
            limits.default_paths,
            horizon,
            request.seed,
            request.mean_block_length,
            request.periods_per_year,
            request.lookback,
            limits,
        ),
    )


def calibration_spec(request: CalibrationRequest, limits: ForecastLimits) -> CalibrationSpec:
    """The request's knobs, validated, with defaults filled in (origins are checked later)."""
    check_source(request.series, request.backtest_id)
    if len(request.horizons) > MAX_HORIZONS:
        raise InvalidArgument.for_field(
            "horizons", f"has {len(request.horizons)} entries; at most {MAX_HORIZONS}"
        )
    horizons = tuple(
        _horizon(h, f"horizons[{i}]", limits) for i, h in enumerate(request.horizons)
    ) or (DEFAULT_HORIZON,)
    for i in range(1, len(horizons)):
        if horizons[i] <= horizons[i - 1]:
            raise InvalidArgument.for_field(
                f"horizons[{i}]", "horizons must be strictly increasing"
            )
    if len(request.bands) > MAX_BANDS:
        raise InvalidArgument.for_field(
            "bands", f"has {len(request.bands)} entries; at most {MAX_BANDS}"
        )
    for i, band in enumerate(request.bands):
        for side, value in (("lower_percentile", band.lower), ("upper_percentile", band.upper)):
            if not (math.isfinite(value) and 0.0 < value < 100.0):
                raise InvalidArgument.for_field(
                    f"bands[{i}].{side}", f"is {value}; percentiles lie in (0, 100)"
                )
        if band.upper <= band.lower:
            raise InvalidArgument.for_field(
                f"bands[{i}].upper_percentile",
                f"{band.upper} is not above the lower percentile {band.lower}",
            )
    _unique(request.kpis, "kpis", Kpi)
    min_history = request.min_history or DEFAULT_MIN_HISTORY
    if min_history < MIN_RETURNS:
        raise InvalidArgument.for_field(
            "min_history", f"is {min_history}; forecasts need at least {MIN_RETURNS} returns"
        )
    if request.origin_step < 0:
        raise InvalidArgument.for_field(
            "origin_step", f"is {request.origin_step}; must be 0 (20) or positive"
        )
    return CalibrationSpec(
        horizons=horizons,
        percentiles=_percentiles(
            request.percentiles, "percentiles", DEFAULT_CALIBRATION_PERCENTILES
        ),
        bands=tuple(request.bands) or DEFAULT_BANDS,
        kpis=tuple(request.kpis) or ALL_KPIS,
        min_history=min_history,
        origin_step=request.origin_step or DEFAULT_ORIGIN_STEP,
        simulating=_simulating(
            request.methods,
            DEFAULT_CALIBRATION_METHODS,
            request.paths,
            DEFAULT_CALIBRATION_PATHS
            if limits.max_paths >= DEFAULT_CALIBRATION_PATHS
            else limits.default_paths,
            horizons[-1],
            request.seed,
            request.mean_block_length,
            request.periods_per_year,
            request.lookback,
            limits,
        ),
    )
