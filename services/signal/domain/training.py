"""Training a LightGBM signal model with purged walk-forward validation.

`train_model(features, labels, config)` joins the feature table and the label table on
(symbol, time), drops rows without the label, and for every fold of `make_splits`:

1. splits the fold's training dates into a fit part and an early-stopping tail (purged between
   them, `early_stopping_split`); boosting stops on the tail, never on the fold's validation block;
2. predicts the validation block with the best iteration and measures it out of sample.

The overall metrics pool every fold's out-of-sample predictions; the leak warning (§8) looks at
them. The final model is fitted on all rows with the median of the folds' best iterations. The
label decides the model kind (see `train_config`).

Determinism: rows are sorted by (time, symbol) first, LightGBM runs with `deterministic`, fixed
seeds and a fixed thread count, so the same inputs and config give the same model, bit for bit.
Training is CPU-bound and blocking: run it in a worker thread; it reports progress through
`progress(fraction, message)` and stops with Cancelled as soon as `should_cancel()` turns true.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa

from services.runtime.errors import Cancelled, FailedPrecondition, FieldViolation, InvalidArgument
from services.signal.domain.frames import (
    KEY_COLUMNS,
    TIME_TYPE,
    LabelKind,
    LabelSpec,
    check_numeric,
    column_values,
    duplicate_key,
    is_label_name,
    matrix,
    normalize_keys,
    numeric_columns,
    parse_label,
    time_micros,
)
from services.signal.domain.metrics import evaluate, leak_warnings
from services.signal.domain.results import (
    FoldReport,
    RowCounts,
    TrainedModel,
    TrainingResult,
    TrainingWindow,
)
from services.signal.domain.splits import Fold, early_stopping_split, make_splits
from services.signal.domain.train_config import ModelKind, TrainConfig

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True, eq=False)
class _Data:
    names: tuple[str, ...]
    symbols: np.ndarray
    times: np.ndarray  # int64 micros
    x: np.ndarray
    y: np.ndarray
    forward_return: np.ndarray
    rows: RowCounts


def train_model(
    features: pa.Table,
    labels: pa.Table,
    config: TrainConfig,
    *,
    progress: ProgressFn | None = None,
    should_cancel: CancelFn | None = None,
) -> TrainingResult:
    """Train, validate walk-forward and fit the final model (blocking, CPU-bound)."""
    config.validate()
    report = progress or (lambda fraction, message: None)
    cancelled = should_cancel or (lambda: False)
    spec = config.label_spec
    names = select_features(features, labels, config)
    data = _prepare(features, labels, names, spec)
    report(0.02, f"{data.rows.used} rows, {len(names)} features")

    dates, position = np.unique(data.times, return_inverse=True)
    folds = make_splits(
        len(dates),
        n_folds=config.n_folds,
        horizon=spec.horizon,
        embargo=config.effective_embargo,
        scheme=config.window,
        train_size=config.train_size,
        test_size=config.test_size,
        min_train=config.min_train_dates,
    )
    params = config.lightgbm_params()
    classifier = config.kind is ModelKind.CLASSIFIER
    reports: list[FoldReport] = []
    oos_rows: list[np.ndarray] = []
    oos_scores: list[np.ndarray] = []
    steps = len(folds) + 1
    for fold in folds:
        _check_cancel(cancelled)
        report(0.05 + 0.9 * fold.index / steps, f"fold {fold.index + 1}/{len(folds)}")
        done, rows, scores = _run_fold(fold, data, dates, position, config, params, cancelled)
        reports.append(done)
        oos_rows.append(rows)
        oos_scores.append(scores)

    report(0.05 + 0.9 * len(folds) / steps, "final model on all rows")
    num_rounds = max(1, int(np.floor(np.median([r.best_iteration for r in reports]) + 0.5)))
    booster = _fit(data.x, data.y, names, params, num_rounds, None, config, cancelled)
    rows = np.concatenate(oos_rows)
    scores = np.concatenate(oos_scores)
    overall = evaluate(
        data.times[rows],
        scores,
        data.forward_return[rows],
        probability=classifier,
        min_names=config.min_names,
    )
    gains = booster.feature_importance(importance_type="gain")
    result = TrainingResult(
        model=TrainedModel(booster, names, config.label, config.kind, params, num_rounds),
        config=config,
        folds=tuple(reports),
        overall=overall,
        warnings=tuple(leak_warnings(overall)),
        window=TrainingWindow(_datetime(int(dates[0])), _datetime(int(dates[-1]))),
        data_hash=data_hash(data.symbols, data.times, data.x, data.y, names, config.label),
        rows=data.rows,
        dates=len(dates),
        feature_importance={n: float(g) for n, g in zip(names, gains, strict=True)},
        oos_scores=_oos_table(data, rows, scores, [len(r) for r in oos_rows], config.label),
    )
    report(1.0, "done")
    return result


def select_features(features: pa.Table, labels: pa.Table, config: TrainConfig) -> tuple[str, ...]:
    """The feature columns to train on; InvalidArgument for labels, keys, missing or bad ones."""
    label_columns = {c for c in labels.column_names if c not in KEY_COLUMNS}
    names = tuple(numeric_columns(features) if config.features is None else config.features)
    if not names:
        raise InvalidArgument.for_field("features", "no feature columns to train on")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidArgument.for_field("features", f"listed twice: {', '.join(duplicates)}")
    forbidden = [n for n in names if is_label_name(n) or n in label_columns or n in KEY_COLUMNS]
    if forbidden:
        raise InvalidArgument(
            f"features: {', '.join(forbidden)} are labels or keys and can never be features",
            reason="LABEL_AS_FEATURE",
            metadata={"columns": ",".join(forbidden)},
            violations=[FieldViolation("features", f"{n} is a label or key") for n in forbidden],
        )
    missing = [n for n in names if n not in features.column_names]
    if missing:
        raise InvalidArgument(
            f"features: {', '.join(missing)} not in the feature table",
            reason="MISSING_COLUMNS",
            metadata={"columns": ",".join(missing)},
            violations=[FieldViolation("features", f"{n} is not a column") for n in missing],
        )
    check_numeric(features, names, "features")
    return names


def data_hash(
    symbols: np.ndarray,
    times: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    feature_names: tuple[str, ...],
    label: str,
) -> str:
    """sha256 of the training inputs: names, keys and values in (time, symbol) order."""
    digest = hashlib.sha256()
    digest.update("\x1f".join((label, *feature_names)).encode())
    digest.update("\x1f".join(symbols.tolist()).encode())
    digest.update(np.ascontiguousarray(times, "<i8").tobytes())
    for values in (x, y):
        floats = np.asarray(values, "<f8")
        # One NaN bit pattern, whatever produced the missing value.
        digest.update(np.ascontiguousarray(np.where(np.isnan(floats), np.nan, floats)).tobytes())
    return digest.hexdigest()


def _prepare(
    features: pa.Table, labels: pa.Table, names: tuple[str, ...], spec: LabelSpec
) -> _Data:
    features = normalize_keys(features, "features")
    labels = normalize_keys(labels, "labels")
    needed = [spec.name] if spec.name == spec.return_column else [spec.name, spec.return_column]
    missing = [c for c in needed if c not in labels.column_names]
    if missing:
        raise InvalidArgument(
            f"labels: missing column(s) {', '.join(missing)}",
            reason="MISSING_COLUMNS",
            metadata={"columns": ",".join(missing)},
            violations=[FieldViolation(f"labels.{c}", "column is missing") for c in missing],
        )
    check_numeric(labels, needed, "labels")
    for what, table in (("features", features), ("labels", labels)):
        dup = duplicate_key(table)
        if dup is not None:
            raise InvalidArgument.for_field(
                what, f"({dup[0]}, {_datetime(dup[1]).isoformat()}) occurs more than once"
            )
    joined = features.select([*KEY_COLUMNS, *names]).join(
        labels.select([*KEY_COLUMNS, *needed]), keys=list(KEY_COLUMNS), join_type="inner"
    )
    joined = joined.sort_by([("time", "ascending"), ("symbol", "ascending")])
    y = column_values(joined.column(spec.name))
    forward_return = column_values(joined.column(spec.return_column))
    keep = np.isfinite(y) & np.isfinite(forward_return)
    if spec.kind is LabelKind.DIRECTION and not np.isin(y[keep], (0.0, 1.0)).all():
        raise InvalidArgument.for_field(f"labels.{spec.name}", "direction labels must be 0 or 1")
    counts = RowCounts(
        features=features.num_rows,
        labels=labels.num_rows,
        joined=joined.num_rows,
        missing_label=int((~keep).sum()),
        used=int(keep.sum()),
    )
    if counts.used == 0:
        raise FailedPrecondition(
            f"no row has both features and the label {spec.name}",
            reason="NO_TRAINING_ROWS",
            metadata={"label": spec.name},
        )
    joined = joined.filter(pa.array(keep))
    symbols = joined.column("symbol").to_numpy(zero_copy_only=False).astype(str)
    return _Data(
        names=names,
        symbols=symbols,
        times=time_micros(joined),
        x=matrix(joined, names),
        y=y[keep],
        forward_return=forward_return[keep],
        rows=counts,
    )


def _run_fold(
    fold: Fold,
    data: _Data,
    dates: np.ndarray,
    position: np.ndarray,
    config: TrainConfig,
    params: dict[str, Any],
    cancelled: CancelFn,
) -> tuple[FoldReport, np.ndarray, np.ndarray]:
    horizon = config.label_spec.horizon
    fit_dates, stop_dates = early_stopping_split(
        fold.train, config.early_stopping_fraction, horizon
    )
    fit = _rows_on(position, fit_dates, len(dates))
    stop = _rows_on(position, stop_dates, len(dates))
    validation = _rows_on(position, fold.validation, len(dates))
    booster = _fit(
        data.x[fit],
        data.y[fit],
        data.names,
        params,
        config.max_rounds,
        (data.x[stop], data.y[stop]),
        config,
        cancelled,
    )
    best = booster.best_iteration or booster.current_iteration()
    scores = np.asarray(booster.predict(data.x[validation], num_iteration=best), dtype=np.float64)
    metrics = evaluate(
        data.times[validation],
        scores,
        data.forward_return[validation],
        probability=config.kind is ModelKind.CLASSIFIER,
        min_names=config.min_names,
    )
    report = FoldReport(
        index=fold.index,
        train_start=_datetime(int(dates[fold.train[0]])),
        train_end=_datetime(int(dates[fold.train[-1]])),
        validation_start=_datetime(int(dates[fold.validation_start])),
        validation_end=_datetime(int(dates[fold.validation_end - 1])),
        fit_rows=int(fit.sum()),
        early_stopping_rows=int(stop.sum()),
        validation_rows=int(validation.sum()),
        purged_dates=fold.purged,
        embargoed_dates=fold.embargoed,
        best_iteration=int(best),
        metrics=metrics,
    )
    return report, np.flatnonzero(validation), scores


def _fit(
    x: np.ndarray,
    y: np.ndarray,
    names: tuple[str, ...],
    params: dict[str, Any],
    rounds: int,
    early_stopping: tuple[np.ndarray, np.ndarray] | None,
    config: TrainConfig,
    cancelled: CancelFn,
) -> lgb.Booster:
    def stop_when_cancelled(env: Any) -> None:
        _check_cancel(cancelled)

    dataset = lgb.Dataset(
        x,
        y,
        feature_name=list(names),
        params={"verbosity": -1},
        free_raw_data=True,
    )
    callbacks: list[Callable[[Any], None]] = [stop_when_cancelled]
    valid_sets = []
    if early_stopping is not None:
        valid_sets.append(lgb.Dataset(*early_stopping, reference=dataset))
        callbacks.append(
            lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True, verbose=False)
        )
    return lgb.train(
        params, dataset, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks
    )


def _oos_table(
    data: _Data, rows: np.ndarray, scores: np.ndarray, fold_sizes: list[int], label: str
) -> pa.Table:
    """Every out-of-sample prediction with its fold, label and forward return."""
    spec = parse_label(label)
    columns: dict[str, pa.Array] = {
        "symbol": pa.array(data.symbols[rows], pa.string()),
        "time": pa.array(data.times[rows], pa.int64()).cast(TIME_TYPE),
        "fold": pa.array(np.repeat(np.arange(len(fold_sizes)), fold_sizes), pa.int32()),
        "score": pa.array(scores, pa.float64()),
        label: pa.array(data.y[rows], pa.float64()),
    }
    if spec.return_column != label:
        columns[spec.return_column] = pa.array(data.forward_return[rows], pa.float64())
    return pa.table(columns)


def _rows_on(position: np.ndarray, date_positions: np.ndarray, n_dates: int) -> np.ndarray:
    """Boolean row mask of the rows whose date position is in `date_positions`."""
    on = np.zeros(n_dates, dtype=bool)
    on[date_positions] = True
    mask: np.ndarray = on[position]
    return mask


def _check_cancel(cancelled: CancelFn) -> None:
    if cancelled():
        raise Cancelled("training was cancelled", reason="CANCELLED")


def _datetime(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)
