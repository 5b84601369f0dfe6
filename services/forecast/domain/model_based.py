"""Model-based return paths: volatility quantile regression, and Prophet on log equity.

Quantile regression (`fit_quantile_model`, `simulate_quantile_model`): the q-quantile of the
next return is a + b·σ, with σ the RiskMetrics EWMA volatility (λ = 0.94) of the returns
before it, fitted for a grid of q by convolution-smoothed quantile regression (Gaussian kernel,
He, Pan, Tan and Zhou 2021: the check loss smoothed so Newton's method applies, with a
bandwidth that shrinks with n). Paths are simulated forward: at every step each path draws a
uniform u, reads its return off its own quantile function at u (rearranged to be monotone,
linear between grid points), then updates its σ with that return. Calm periods get narrow
bands, turbulent ones wide, and volatility persists along a path.

Prophet (`prophet_paths`): Prophet with a linear trend and no seasonality is fitted to the log
equity of the trailing history (one bar a day on a synthetic calendar, since horizons count
bars); the paths are its predictive samples, drawn here with a seeded generator exactly as
Prophet draws them (future changepoints with Laplace slope changes, plus Gaussian observation
noise), anchored at the last observed equity. Prophet's noise is independent from bar to bar,
not a random walk, so its drawdown and Sharpe bands mostly describe that noise.

Both functions take plain numpy arrays and are meant to run in a worker thread or process;
Prophet is imported only when it is used.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from services.forecast.domain.kpis import as_paths

#: RiskMetrics decay of the EWMA variance.
EWMA_LAMBDA = 0.94
#: Returns used to seed the EWMA variance; they are not regression rows.
EWMA_WARMUP = 20
#: Quantile levels of the regression grid; draws beyond its ends take the end quantiles.
QUANTILE_GRID: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50,
    0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.975, 0.99, 0.995,
)  # fmt: skip
#: Returns Prophet fits by default (the trailing ones): enough for its changepoints to find
#: the recent trend; longer windows also cost more per fit.
PROPHET_WINDOW = 504
#: Smallest simulated simple return: keeps every equity positive.
MIN_RETURN = -0.99
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def ewma_volatility(returns: np.ndarray, lam: float = EWMA_LAMBDA) -> np.ndarray:
    """σ_t for t = 0..n: the EWMA volatility of returns[:t] (σ_n forecasts the next return).

    The variance starts at the mean square of the first EWMA_WARMUP returns (or all, if fewer),
    so σ_t for t < EWMA_WARMUP peeks at those warm-up returns; callers fit on t >= EWMA_WARMUP.
    """
    r = np.asarray(returns, dtype=np.float64)
    variance = np.empty(len(r) + 1)
    variance[0] = max(float(np.mean(r[:EWMA_WARMUP] ** 2)) if len(r) else 0.0, 1e-12)
    for t, value in enumerate(r):
        variance[t + 1] = lam * variance[t] + (1.0 - lam) * value * value
    return np.sqrt(variance)


def smoothed_quantile_regression(
    x: np.ndarray, y: np.ndarray, taus: np.ndarray, iterations: int = 50
) -> np.ndarray:
    """Coefficients (taus x 2: intercept, slope) of y's quantiles on one regressor x.

    Minimises the Gaussian-kernel smoothed check loss ℓ(u) = u(τ − Φ(−u/h)) + h·φ(u/h) by damped
    Newton steps, every τ at once. x and y are standardised first; the bandwidth is
    h = max(0.05, sqrt(τ(1−τ)) · ((2 + log n)/n)^(1/4)) in standard units of y.
    """
    n = len(y)
    x_mean, x_scale = float(x.mean()), float(x.std()) or 1.0
    y_mean, y_scale = float(y.mean()), float(y.std()) or 1.0
    xs, ys = (x - x_mean) / x_scale, (y - y_mean) / y_scale
    xc = xs[:, None]
    tau = np.asarray(taus, dtype=np.float64)
    h = np.maximum(0.05, np.sqrt(tau * (1 - tau)) * ((2 + math.log(n)) / n) ** 0.25)
    # Start from a location-scale fit: y = σ·ε, so the τ-quantile is x·quantile(y/x, τ).
    ratio = np.quantile(y / np.where(np.abs(x) > 0, x, 1.0), tau) if (x > 0).all() else 0 * tau
    slope = ratio * x_scale / y_scale
    intercept = (ratio * x_mean - y_mean) / y_scale

    def evaluate(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Loss per τ, and Φ(−u/h) and φ(u/h) at the standardised residuals u."""
        z = (ys[:, None] - a - b * xc) / h
        below = ndtr(-z)
        density = np.exp(-0.5 * z * z) * _INV_SQRT_2PI
        return ((z * (tau - below) + density) * h).mean(axis=0), below, density

    current, below, density = evaluate(intercept, slope)
    for _ in range(iterations):
        psi = tau - below
        weight = density / h + 1e-9
        g0, g1 = psi.mean(axis=0), (psi * xc).mean(axis=0)
        wx = weight * xc
        h00, h01, h11 = weight.mean(axis=0), wx.mean(axis=0), (wx * xc).mean(axis=0)
        det = h00 * h11 - h01 * h01
        singular = det <= 1e-12 * np.maximum(h00 * h11, 1e-300)  # x (nearly) constant
        safe = np.where(singular, 1.0, det)
        da = np.where(singular, g0 / h00, (h11 * g0 - h01 * g1) / safe)
        db = np.where(singular, 0.0, (h00 * g1 - h01 * g0) / safe)
        # a trust region of half a standard unit: extreme τ have few points near their
        # quantile, so their Hessian is nearly singular and raw Newton steps overshoot
        step = np.minimum(1.0, 0.5 / np.maximum(np.abs(da), np.abs(db)).clip(1e-300))
        for _ in range(30):  # halve each τ's step until its loss does not increase
            trial, trial_below, trial_density = evaluate(intercept + step * da, slope + step * db)
            worse = trial > current + 1e-15
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
        intercept, slope = intercept + step * da, slope + step * db
        gain = float(np.max(current - trial))
        current, below, density = trial, trial_below, trial_density
        if gain < 1e-10 * float(np.mean(current)):  # the loss no longer moves
            break
    slope_raw = slope * y_scale / x_scale
    intercept_raw = y_mean + intercept * y_scale - slope_raw * x_mean
    return np.column_stack([intercept_raw, slope_raw])


@dataclass(frozen=True)
class QuantileModel:
    """Next-return quantiles a + b·σ over `taus`, and the σ to start simulating from."""

    taus: np.ndarray
    intercept: np.ndarray
    slope: np.ndarray
    sigma_now: float
    rows: int

    def quantiles(self, sigma: np.ndarray) -> np.ndarray:
        """(len(sigma) x taus) rearranged (sorted) quantiles at each volatility."""
        values = self.intercept[None, :] + np.asarray(sigma)[:, None] * self.slope[None, :]
        return np.sort(values, axis=1)

    def describe(self) -> str:
        now = self.quantiles(np.array([self.sigma_now]))[0]
        at = {q: float(np.interp(q, self.taus, now)) for q in (0.05, 0.5, 0.95)}
        return (
            f"quantile regression of the next return on EWMA volatility (λ={EWMA_LAMBDA}) over "
            f"{self.rows} returns; at the current σ {self.sigma_now:.4f} the next return's "
            f"5/50/95% quantiles are {at[0.05]:+.4f} / {at[0.5]:+.4f} / {at[0.95]:+.4f}"
        )


def fit_quantile_model(
    returns: np.ndarray, taus: tuple[float, ...] = QUANTILE_GRID
) -> QuantileModel:
    """Fit the next-return quantiles on the EWMA volatility of the history."""
    r = np.asarray(returns, dtype=np.float64)
    sigma = ewma_volatility(r)
    rows = slice(min(EWMA_WARMUP, max(len(r) - 20, 0)), len(r))
    x, y = sigma[:-1][rows], r[rows]
    coef = smoothed_quantile_regression(x, y, np.asarray(taus))
    return QuantileModel(
        taus=np.asarray(taus, dtype=np.float64),
        intercept=coef[:, 0],
        slope=coef[:, 1],
        sigma_now=float(sigma[-1]),
        rows=len(y),
    )


def simulate_quantile_model(
    model: QuantileModel, paths: int, horizon: int, rng: np.random.Generator
) -> np.ndarray:
    """Return paths (paths x horizon) simulated from the fitted quantile model."""
    taus = model.taus
    variance = np.full(paths, model.sigma_now**2)
    out = np.empty((paths, horizon))
    rows = np.arange(paths)
    for step in range(horizon):
        q = model.quantiles(np.sqrt(variance))
        u = rng.random(paths)
        upper = np.clip(np.searchsorted(taus, u), 1, len(taus) - 1)
        lower = upper - 1
        weight = np.clip((u - taus[lower]) / (taus[upper] - taus[lower]), 0.0, 1.0)
        draw = q[rows, lower] + weight * (q[rows, upper] - q[rows, lower])
        draw = np.maximum(draw, MIN_RETURN)
        out[:, step] = draw
        variance = EWMA_LAMBDA * variance + (1.0 - EWMA_LAMBDA) * draw * draw
    return out


def quantile_regression_paths(
    returns: np.ndarray, paths: int, horizon: int, rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """Fit and simulate: (paths x horizon) returns and a description of the fit."""
    model = fit_quantile_model(as_paths(returns)[0])
    return simulate_quantile_model(model, paths, horizon, rng), model.describe()


def _quiet_prophet() -> None:
    """Silence Prophet's and cmdstanpy's progress logging (cmdstanpy adds its own handler)."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "plotly failed" on import
    logging.getLogger("prophet").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="The inplace keyword", module="prophet")
    from cmdstanpy.utils import get_logger

    logger = get_logger()
    logger.setLevel(logging.WARNING)
    for handler in logger.handlers:
        handler.setLevel(logging.WARNING)


def prophet_paths(
    returns: np.ndarray,
    paths: int,
    horizon: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, str]:
    """Prophet's predictive return paths (paths x horizon) from the log equity of the history.

    Prophet fits every return given; callers pass the trailing window (PROPHET_WINDOW).
    """
    import pandas as pd

    _quiet_prophet()
    from prophet import Prophet  # slow to import; only fitting workers need it

    r = as_paths(returns)[0]
    log_equity = np.concatenate([[0.0], np.cumsum(np.log1p(r))])
    days = pd.date_range("2000-01-01", periods=len(log_equity) + horizon, freq="D")
    model: Any = Prophet(  # Prophet's own annotations leave fitted fields optional
        growth="linear",
        yearly_seasonality=False,
        weekly_seasonality=False,
        daily_seasonality=False,
        uncertainty_samples=0,
    )
    model.fit(pd.DataFrame({"ds": days[: len(log_equity)], "y": log_equity}))
    future = model.setup_dataframe(pd.DataFrame({"ds": days[len(log_equity) :]}))
    t = future["t"].to_numpy(dtype=np.float64)
    deltas = np.asarray(model.params["delta"], dtype=np.float64).reshape(-1)
    k, m = float(np.ravel(model.params["k"])[0]), float(np.ravel(model.params["m"])[0])
    changepoints = np.asarray(model.changepoints_t, dtype=np.float64)
    expected = model.piecewise_linear(t, deltas, k, m, changepoints)
    # Prophet's own trend uncertainty (Prophet._sample_uncertainty, linear growth), seeded here.
    step = float(np.diff(t).mean()) if horizon > 1 else float(np.diff(model.history["t"]).mean())
    likelihood = len(changepoints) * step
    mean_delta = float(np.mean(np.abs(deltas))) + 1e-8
    changes = (rng.random((paths, horizon)) < likelihood) * rng.laplace(
        0.0, mean_delta, (paths, horizon)
    )
    changes = (np.hstack([np.zeros((paths, 1)), changes])[:, :-1] + changes) / 2
    uncertainty = changes.cumsum(axis=1).cumsum(axis=1) * step
    y_scale = float(model.y_scale)
    sigma_obs = float(np.ravel(model.params["sigma_obs"])[0])
    noise = rng.normal(0.0, sigma_obs, (paths, horizon))
    future_log_equity = (expected[None, :] + uncertainty + noise) * y_scale
    anchored = np.hstack([np.full((paths, 1), log_equity[-1]), future_log_equity])
    simulated = np.maximum(np.expm1(np.diff(anchored, axis=1)), MIN_RETURN)
    trend_now = float(model.piecewise_linear(t[:1], deltas, k, m, changepoints)[0]) * y_scale
    detail = (
        f"Prophet on the log equity of the last {len(r)} returns: trend slope "
        f"{(expected[-1] - expected[0]) * y_scale / max(horizon - 1, 1):+.2e} per bar, "
        f"observation noise σ {sigma_obs * y_scale:.4f}, last log equity "
        f"{log_equity[-1] - trend_now:+.4f} from the trend"
    )
    return simulated, detail
