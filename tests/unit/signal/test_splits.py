"""Purged, embargoed splits: no training label window ever touches a validation block."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.runtime.errors import InvalidArgument
from services.signal.domain.splits import SplitScheme, early_stopping_split, make_splits


def _window(t: int, horizon: int) -> set[int]:
    """The dates a label at t is built from."""
    return set(range(t, t + horizon + 1))


@settings(max_examples=200, deadline=None)
@given(
    n_dates=st.integers(60, 400),
    n_folds=st.integers(1, 6),
    horizon=st.integers(0, 20),
    embargo=st.integers(0, 15),
    scheme=st.sampled_from(list(SplitScheme)),
)
def test_no_training_label_window_overlaps_validation(
    n_dates: int, n_folds: int, horizon: int, embargo: int, scheme: SplitScheme
) -> None:
    try:
        folds = make_splits(
            n_dates, n_folds=n_folds, horizon=horizon, embargo=embargo, scheme=scheme, min_train=5
        )
    except InvalidArgument:
        return  # too little data for these settings: refused, never silently leaky
    assert len(folds) == n_folds
    for fold in folds:
        validation = fold.validation
        block = set(validation.tolist())
        validation_windows = set().union(*(_window(v, horizon) for v in validation.tolist()))
        train = fold.train.tolist()
        assert len(train) >= 5
        assert train == sorted(set(train)) and train[0] >= 0 and train[-1] < n_dates
        for t in train:
            assert t not in block
            assert not (_window(t, horizon) & block), (t, fold.validation_start)
            assert not (_window(t, horizon) & validation_windows)
        after = [t for t in train if t >= fold.validation_end]
        if after:  # embargo: nothing within `embargo` dates after the purge that follows a block
            assert min(after) >= fold.validation_end + horizon + embargo
        if scheme is not SplitScheme.PURGED_KFOLD:
            assert not after  # walk-forward trains on the past only
            assert max(train) == fold.validation_start - horizon - 1


@settings(max_examples=100, deadline=None)
@given(n_dates=st.integers(100, 500), n_folds=st.integers(1, 5), horizon=st.integers(0, 10))
def test_walk_forward_blocks_tile_the_end_in_order(
    n_dates: int, n_folds: int, horizon: int
) -> None:
    folds = make_splits(n_dates, n_folds=n_folds, horizon=horizon, min_train=1)
    size = n_dates // (n_folds + 1)
    assert [f.validation_end - f.validation_start for f in folds] == [size] * n_folds
    assert folds[-1].validation_end == n_dates
    for earlier, later in itertools.pairwise(folds):
        assert earlier.validation_end == later.validation_start
        assert len(later.train) > len(earlier.train)  # expanding
        assert earlier.train[0] == later.train[0] == 0


def test_rolling_windows_keep_their_length() -> None:
    folds = make_splits(300, n_folds=4, horizon=5, scheme="rolling", train_size=80, test_size=40)
    assert [len(f.train) for f in folds] == [80, 80, 80, 80]
    assert [f.train[-1] for f in folds] == [f.validation_start - 6 for f in folds]


def test_purged_kfold_purges_both_sides_and_embargoes_after() -> None:
    folds = make_splits(100, n_folds=4, horizon=3, embargo=2, scheme="purged_kfold", min_train=1)
    second = folds[1]  # validation [25, 50)
    assert (second.validation_start, second.validation_end) == (25, 50)
    assert second.train.tolist() == list(range(0, 22)) + list(range(55, 100))
    assert (second.purged, second.embargoed) == (6, 2)


def test_too_many_folds_for_the_data_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidArgument) as caught:
        make_splits(50, n_folds=10, horizon=20)
    assert caught.value.violations[0].field == "n_folds"
    with pytest.raises(InvalidArgument):
        make_splits(100, n_folds=0, horizon=1)
    with pytest.raises(InvalidArgument):
        make_splits(100, n_folds=2, horizon=-1)
    with pytest.raises(InvalidArgument):
        make_splits(100, n_folds=2, horizon=1, scheme="random")


def test_early_stopping_uses_the_purged_tail_of_the_training_dates() -> None:
    fit, stop = early_stopping_split(np.arange(100), 0.2, horizon=5)
    assert stop.tolist() == list(range(80, 100))
    assert fit.tolist() == list(range(0, 75))
    with pytest.raises(InvalidArgument):
        early_stopping_split(np.arange(10), 0.2, horizon=20)
    with pytest.raises(InvalidArgument):
        early_stopping_split(np.arange(10), 1.0, horizon=1)
