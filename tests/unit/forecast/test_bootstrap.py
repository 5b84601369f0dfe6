"""The stationary bootstrap keeps blocks of consecutive returns, is seeded, and picks a sane
block length."""

from __future__ import annotations

import numpy as np
import pytest

from services.forecast.domain.bootstrap import (
    politis_white_block_length,
    stationary_bootstrap,
    stationary_indices,
)


def continuation_share(indices: np.ndarray, n: int) -> float:
    """Share of steps that continue the current block: the next index is the next return."""
    return float(np.mean(indices[:, 1:] == (indices[:, :-1] + 1) % n))


@pytest.mark.parametrize("block", [1.0, 5.0, 20.0])
def test_blocks_have_geometric_lengths_with_the_requested_mean(block: float) -> None:
    n = 1_000
    indices = stationary_indices(n, 2_000, 100, block, np.random.default_rng(7))
    # a step continues its block with probability 1 - 1/L (plus the 1/n chance that a new
    # block happens to start right after the old one)
    expected = (1 - 1 / block) + (1 / block) / n
    assert continuation_share(indices, n) == pytest.approx(expected, abs=0.01)


def test_returns_inside_a_block_keep_their_order_and_wrap_around() -> None:
    history = np.arange(50, dtype=np.float64)  # value == position
    paths = stationary_bootstrap(history, 500, 60, 10.0, np.random.default_rng(3))
    assert paths.shape == (500, 60)
    steps = np.diff(paths, axis=1)
    within = (steps == 1) | (steps == -49)  # +1, or wrapping from the last return to the first
    assert within.mean() == pytest.approx(0.9, abs=0.02)
    assert (steps == -49).any()  # blocks do wrap circularly
    assert set(np.unique(paths)) <= set(history)


def test_bootstrap_is_deterministic_given_the_seed() -> None:
    history = np.random.default_rng(0).normal(0, 0.01, 300)
    first = stationary_bootstrap(history, 200, 30, 4.0, np.random.default_rng(42))
    again = stationary_bootstrap(history, 200, 30, 4.0, np.random.default_rng(42))
    other = stationary_bootstrap(history, 200, 30, 4.0, np.random.default_rng(43))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_every_return_is_drawn_about_equally_often() -> None:
    n = 40
    indices = stationary_indices(n, 4_000, 50, 8.0, np.random.default_rng(1))
    counts = np.bincount(indices.ravel(), minlength=n) / indices.size
    assert counts == pytest.approx(np.full(n, 1 / n), rel=0.1)


def test_politis_white_picks_short_blocks_for_iid_and_long_ones_for_persistent_series() -> None:
    rng = np.random.default_rng(5)
    iid = rng.normal(size=2_000)
    assert 1.0 <= politis_white_block_length(iid) <= 3.0
    ar = np.empty(2_000)
    ar[0] = 0.0
    shocks = rng.normal(size=2_000)
    for t in range(1, len(ar)):
        ar[t] = 0.8 * ar[t - 1] + shocks[t]
    persistent = politis_white_block_length(ar)
    assert persistent > 8.0
    assert persistent <= np.ceil(min(3 * np.sqrt(2_000), 2_000 / 3))
    assert politis_white_block_length(np.full(100, 0.01)) == 1.0
