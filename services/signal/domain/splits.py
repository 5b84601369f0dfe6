"""Purged and embargoed splits over the sorted unique dates of a data set.

Positions index the sorted unique dates. The label of date t is built from the bars t..t+h (its
*label window*, h = the label horizon), so a training date whose label window reaches into a
validation block, or into the label windows of that block, would leak the block's returns:

- purge: the h dates before each validation block are dropped from training, and, where training
  continues after a block (purged k-fold), the h dates after it too;
- embargo: `embargo` more dates after each block (and its after-purge) are dropped from training
  against serial correlation (López de Prado, AFML §7.4). Walk-forward schemes train only on
  dates before their block, so the embargo holds there by construction; it bites in PURGED_KFOLD.

Schemes: EXPANDING (walk-forward, training from the first date), ROLLING (walk-forward, the last
`train_size` dates) and PURGED_KFOLD (contiguous blocks over all dates, training on both sides).
Walk-forward validation blocks of `test_size` dates tile the end of the data, oldest fold first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from services.runtime.errors import InvalidArgument


class SplitScheme(StrEnum):
    EXPANDING = "expanding"
    ROLLING = "rolling"
    PURGED_KFOLD = "purged_kfold"


@dataclass(frozen=True, eq=False)
class Fold:
    """One split: training date positions and the contiguous validation block [start, end)."""

    index: int
    train: np.ndarray  # sorted int64 date positions
    validation_start: int
    validation_end: int
    purged: int  # training dates dropped for overlapping label windows
    embargoed: int  # training dates dropped by the embargo

    @property
    def validation(self) -> np.ndarray:
        return np.arange(self.validation_start, self.validation_end, dtype=np.int64)


def make_splits(
    n_dates: int,
    *,
    n_folds: int,
    horizon: int,
    embargo: int = 0,
    scheme: SplitScheme | str = SplitScheme.EXPANDING,
    train_size: int | None = None,
    test_size: int | None = None,
    min_train: int = 20,
) -> list[Fold]:
    """The folds over `n_dates` sorted unique dates; InvalidArgument when they do not fit.

    `test_size` (walk-forward): dates per validation block, default n_dates // (n_folds + 1).
    `train_size` (ROLLING): dates in each training window before purging, default the dates
    before the first block. Every fold keeps at least `min_train` training dates.
    """
    scheme = _scheme(scheme)
    _check_positive("n_folds", n_folds, 1)
    _check_positive("horizon", horizon, 0)
    _check_positive("embargo", embargo, 0)
    if scheme is SplitScheme.PURGED_KFOLD:
        if n_folds < 2:
            raise InvalidArgument.for_field("n_folds", "purged k-fold needs at least 2 folds")
        if n_dates < n_folds:
            raise InvalidArgument.for_field("n_folds", f"{n_folds} folds over {n_dates} dates")
        bounds = np.linspace(0, n_dates, n_folds + 1).round().astype(np.int64)
        blocks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    else:
        size = test_size if test_size is not None else n_dates // (n_folds + 1)
        if test_size is None and size < 1:
            raise InvalidArgument.for_field("n_folds", f"{n_folds} folds over {n_dates} dates")
        _check_positive("test_size", size, 1)
        first = n_dates - n_folds * size
        if first <= horizon:
            raise InvalidArgument.for_field(
                "n_folds",
                f"{n_folds} validation blocks of {size} dates leave {max(first, 0)} of "
                f"{n_dates} dates to train on, not more than the horizon {horizon}",
            )
        blocks = [(first + k * size, first + (k + 1) * size) for k in range(n_folds)]
        if scheme is SplitScheme.ROLLING:
            window = train_size if train_size is not None else first - horizon
            _check_positive("train_size", window, 1)
            train_size = window
    folds = []
    for index, (start, end) in enumerate(blocks):
        fold = _fold(index, n_dates, start, end, horizon, embargo, scheme, train_size)
        if len(fold.train) < min_train:
            raise InvalidArgument.for_field(
                "n_folds",
                f"fold {index} has {len(fold.train)} training dates after purging, fewer than "
                f"{min_train}: use fewer folds, a shorter horizon or more data",
            )
        folds.append(fold)
    return folds


def _fold(
    index: int,
    n_dates: int,
    start: int,
    end: int,
    horizon: int,
    embargo: int,
    scheme: SplitScheme,
    train_size: int | None,
) -> Fold:
    before_end = max(0, start - horizon)
    before_start = 0
    if scheme is SplitScheme.ROLLING and train_size is not None:
        before_start = max(0, start - horizon - train_size)
    parts = [np.arange(before_start, before_end, dtype=np.int64)]
    purged = start - before_end
    embargoed = 0
    if scheme is SplitScheme.PURGED_KFOLD:
        purge_end = min(n_dates, end + horizon)
        embargo_end = min(n_dates, purge_end + embargo)
        parts.append(np.arange(embargo_end, n_dates, dtype=np.int64))
        purged += purge_end - end
        embargoed = embargo_end - purge_end
    return Fold(index, np.concatenate(parts), start, end, purged, embargoed)


def early_stopping_split(
    train: np.ndarray, fraction: float, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, stop): the last `fraction` of the training dates for early stopping, the rest to fit.

    The fit dates are purged like any training set: none within `horizon` dates before the
    early-stopping block, so the rounds are chosen on returns the fit never saw.
    """
    if not 0.0 < fraction < 1.0:
        raise InvalidArgument.for_field("early_stopping_fraction", "must be in (0, 1)")
    train = np.sort(np.asarray(train, dtype=np.int64))
    n_stop = max(1, math.ceil(fraction * len(train)))
    if n_stop >= len(train):
        raise InvalidArgument.for_field(
            "early_stopping_fraction", f"leaves nothing to fit on {len(train)} training dates"
        )
    stop = train[-n_stop:]
    fit = train[train < stop[0] - horizon]
    if len(fit) == 0:
        raise InvalidArgument.for_field(
            "early_stopping_fraction",
            f"{len(train)} training dates leave none to fit after purging {horizon} dates",
        )
    return fit, stop


def _scheme(scheme: SplitScheme | str) -> SplitScheme:
    try:
        return SplitScheme(scheme)
    except ValueError:
        raise InvalidArgument.for_field(
            "window", f"{scheme!r} is not one of {', '.join(s.value for s in SplitScheme)}"
        ) from None


def _check_positive(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise InvalidArgument.for_field(name, f"must be at least {minimum}, not {value}")
