"""The signal service's domain: train, register, score, explain, and stream live signals.

`Signals` ties the parts together: features and labels come from a `FeatureSource` (marketdata),
training from `training.train_model`, the registry is MLflow, model cards live in MongoDB,
serving follows aliases through `ModelResolver`, and live signals go through the signal log and
the subscription hub. `follow_ingests` is the background loop that scores every committed
ingest batch for every followed stream, so a subscriber that reconnects finds what it missed in
the log.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from services.marketdata.domain.bar_table import TIME_TYPE
from services.marketdata.domain.store import BatchNotice
from services.runtime.errors import (
    Cancelled,
    InvalidArgument,
    NotFound,
    OutOfRange,
    QuantmeshError,
    ResourceExhausted,
)
from services.runtime.pagination import clamp_page_size, decode_page_token, encode_page_token
from services.runtime.time_convert import ensure_utc
from services.signal.domain.feature_port import FeatureRows, FeatureSource
from services.signal.domain.follow_state import FollowState
from services.signal.domain.model_cards import ModelCard, ModelCardStore
from services.signal.domain.refs import CHAMPION, FeatureViewRef, ModelRef, check_alias
from services.signal.domain.registry import ModelRegistry, ModelVersionInfo, Promotion
from services.signal.domain.requests import TrainRequest
from services.signal.domain.results import TrainingResult
from services.signal.domain.scoring import RowExplanation, ScoringModel
from services.signal.domain.serving import ModelResolver
from services.signal.domain.subscriptions import Subscription, SubscriptionHub, stream_key
from services.signal.domain.train_config import TrainConfig
from services.signal.domain.training import train_model

log = logging.getLogger("quantmesh.signal")

#: TrainModel's `params`, by the names users know (LightGBM's and scikit-learn's), to
#: TrainConfig fields.
PARAM_FIELDS: dict[str, str] = {
    "learning_rate": "learning_rate",
    "num_leaves": "num_leaves",
    "min_data_in_leaf": "min_data_in_leaf",
    "min_child_samples": "min_data_in_leaf",
    "feature_fraction": "feature_fraction",
    "colsample_bytree": "feature_fraction",
    "bagging_fraction": "bagging_fraction",
    "subsample": "bagging_fraction",
    "lambda_l2": "lambda_l2",
    "reg_lambda": "lambda_l2",
    "n_estimators": "max_rounds",
    "num_boost_round": "max_rounds",
    "max_rounds": "max_rounds",
    "early_stopping_rounds": "early_stopping_rounds",
    "min_train_dates": "min_train_dates",
    "seed": "seed",
}
_INT_FIELDS = {
    "num_leaves",
    "min_data_in_leaf",
    "max_rounds",
    "early_stopping_rounds",
    "min_train_dates",
    "seed",
}
#: How far back live scoring computes features before the new bars, so that every indicator's
#: smoothing has converged (Wilder and EMA weights decay below 1e-12 well within it).
LIVE_WARMUP_BARS = 400


@dataclass(frozen=True)
class TrainOutcome:
    model: ModelVersionInfo
    result: TrainingResult


@dataclass(frozen=True)
class ScoreOutcome:
    symbol: str
    time: datetime
    score: float
    model: ScoringModel


@dataclass(frozen=True)
class ExplainOutcome:
    explanation: RowExplanation
    model: ScoringModel


@dataclass(frozen=True)
class ModelPage:
    models: list[ModelVersionInfo]
    next_page_token: str


class Signals:
    def __init__(
        self,
        registry: ModelRegistry,
        resolver: ModelResolver,
        hub: SubscriptionHub,
        features: FeatureSource,
        follow: FollowState,
        cards: ModelCardStore | None = None,
        *,
        max_batch_rows: int = 100_000,
        train_threads: int = 2,
    ) -> None:
        self.registry = registry
        self.resolver = resolver
        self.hub = hub
        self.features = features
        self.follow = follow
        self.cards = cards
        self.max_batch_rows = max_batch_rows
        self.train_threads = train_threads
        self._rows: dict[str, FeatureRows] = {}
        self._loading: dict[str, asyncio.Lock] = {}

    # -- training ---------------------------------------------------------------------------

    def prepare(self, request: TrainRequest) -> TrainConfig:
        """Check a training request before it becomes an operation; InvalidArgument names
        the first bad field."""
        ModelRef(request.model_name, alias=CHAMPION)  # validates the name
        if request.alias:
            check_alias(request.alias)
        settings: dict[str, float | int] = {}
        for name, value in request.params.items():
            target = PARAM_FIELDS.get(name)
            if target is None:
                known = ", ".join(sorted(PARAM_FIELDS))
                raise InvalidArgument.for_field(
                    f"params[{name}]", f"unknown parameter; known: {known}"
                )
            if value != value or value in (float("inf"), float("-inf")):
                raise InvalidArgument.for_field(f"params[{name}]", "must be a finite number")
            if target in _INT_FIELDS:
                if value != int(value):
                    raise InvalidArgument.for_field(f"params[{name}]", "must be a whole number")
                settings[target] = int(value)
            else:
                settings[target] = float(value)
        if request.folds < 1:
            raise InvalidArgument.for_field("folds", "must be at least 1")
        if request.start and request.end and ensure_utc(request.start) >= ensure_utc(request.end):
            raise InvalidArgument.for_field("time_range", "start is not before end")
        config = TrainConfig(
            label=request.label,
            n_folds=request.folds,
            embargo=request.embargo,
            num_threads=self.train_threads,
            **settings,  # type: ignore[arg-type]
        )
        config.validate()
        if request.objective is not None and request.objective is not config.kind:
            raise InvalidArgument.for_field(
                "objective",
                f"{request.objective.value} does not fit label {request.label!r}, which "
                f"trains a {config.kind.value}",
            )
        return config

    async def check_sources(self, request: TrainRequest) -> None:
        """NotFound now, rather than a failed operation later, for a missing feature view."""
        await self.features.find_view(request.feature_view, request.feature_version)

    async def train(
        self,
        request: TrainRequest,
        progress: Callable[[float, str], None],
        cancel: threading.Event,
    ) -> TrainOutcome:
        """Read features and labels, train with walk-forward validation, register, and card."""
        config = self.prepare(request)
        progress(0.02, "reading features")
        view, features = await self.features.read_features(
            request.feature_view,
            request.feature_version,
            request.symbols,
            request.start,
            request.end,
        )
        progress(0.08, f"reading labels as of {view.watermark.isoformat()}")
        labels = await self.features.read_labels(
            sorted(set(features.column("symbol").to_pylist())),
            view.frequency,
            request.start,
            request.end,
            [config.label_spec.horizon],
            view.watermark,
        )

        def report(fraction: float, message: str) -> None:
            progress(0.1 + 0.8 * fraction, message)

        result = await asyncio.to_thread(
            train_model, features, labels, config, progress=report, should_cancel=cancel.is_set
        )
        if cancel.is_set():
            raise Cancelled("training was cancelled")
        progress(0.92, "registering in MLflow")
        feature_ref = FeatureViewRef(view.name, view.version, view.watermark)
        aliases = (request.alias,) if request.alias else None
        info = await asyncio.to_thread(
            self.registry.register, request.model_name, result, feature_ref, aliases
        )
        if self.cards is not None:
            card = ModelCard.from_training(
                info.name, info.version, info.run_id, result, feature_ref
            )
            await self.cards.upsert(card)
        self.resolver.invalidate(info.name)
        progress(1.0, f"registered {info.name} version {info.version}")
        return TrainOutcome(info, result)

    # -- models -----------------------------------------------------------------------------

    async def list_models(
        self, name: str = "", page_size: int = 0, page_token: str = ""
    ) -> ModelPage:
        filters = {"name": name}
        after = decode_page_token(page_token, filters)
        limit = clamp_page_size(page_size, default=100, maximum=1000)
        if name:
            models = [await asyncio.to_thread(self.registry.model, name)]
        else:
            models = await asyncio.to_thread(self.registry.list_models)
        # By name, newest version first; the token remembers the last (name, version) shown.
        ordered = sorted((v for m in models for v in m.versions), key=_order)
        if after is not None:
            name_after, _, version_after = after.partition("/")
            mark = (name_after, -int(version_after))
            ordered = [v for v in ordered if _order(v) > mark]
        page = ordered[:limit]
        token = ""
        if len(ordered) > limit:
            token = encode_page_token(f"{page[-1].name}/{page[-1].version}", filters)
        return ModelPage(page, token)

    async def promote(self, name: str, version: int, alias: str = CHAMPION) -> Promotion:
        promotion = await asyncio.to_thread(self.registry.promote, name, alias or CHAMPION, version)
        self.resolver.invalidate(name)
        return promotion

    async def model(self, ref: ModelRef) -> ScoringModel:
        return await self.resolver.aget(ref)

    # -- scoring ----------------------------------------------------------------------------

    async def score_batch(self, ref: ModelRef, rows: pa.Table) -> tuple[ScoringModel, pa.Table]:
        """Scores of `rows` (symbol, time, and the model's features, or only symbol and time,
        in which case the features are read), in the rows' order."""
        if rows.num_rows == 0:
            raise InvalidArgument.for_field("rows", "the batch has no rows")
        if rows.num_rows > self.max_batch_rows:
            raise ResourceExhausted(
                f"batch of {rows.num_rows} rows exceeds the limit of {self.max_batch_rows}",
                metadata={"rows": str(rows.num_rows), "limit": str(self.max_batch_rows)},
            )
        model = await self.resolver.aget(ref)
        if set(rows.column_names) <= {"symbol", "time"}:
            rows = await self._feature_rows_for(model, rows)
        return model, await asyncio.to_thread(model.score, rows)

    async def score(self, ref: ModelRef, symbol: str, time: datetime | None) -> ScoreOutcome:
        model = await self.resolver.aget(ref)
        cache = await self._cache(model)
        key = symbol.strip().upper()
        when = ensure_utc(time) if time is not None else cache.latest(key)
        if when is not None:
            vector = cache.vector(key, when, model.feature_names)
            if vector is not None:
                # One cached row: predicting inline is cheaper than a hop to a worker thread.
                score = model.predict_one(vector)
                return ScoreOutcome(key, when, score, model)
        row = await self._feature_row(model, symbol, time)
        scores = await asyncio.to_thread(model.score, row)
        return ScoreOutcome(
            scores.column("symbol")[0].as_py(),
            scores.column("time")[0].as_py(),
            float(scores.column("score")[0].as_py()),
            model,
        )

    async def explain(self, ref: ModelRef, symbol: str, time: datetime | None) -> ExplainOutcome:
        model = await self.resolver.aget(ref)
        row = await self._feature_row(model, symbol, time)
        explanation = await asyncio.to_thread(model.explain, row)
        return ExplainOutcome(explanation.row(0), model)

    async def _cache(self, model: ScoringModel) -> FeatureRows:
        """The materialized rows of the model's feature version, loaded once."""
        key = model.feature_view.version
        if key in self._rows:
            return self._rows[key]
        lock = self._loading.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._rows:
                _, table = await self.features.read_features(
                    model.feature_view.name, model.feature_view.version
                )
                rows = FeatureRows()
                rows.add(table)
                self._rows[key] = rows
        return self._rows[key]

    async def _feature_row(
        self, model: ScoringModel, symbol: str, time: datetime | None
    ) -> pa.Table:
        symbol = symbol.strip().upper()
        if not symbol:
            raise InvalidArgument.for_field("symbol", "is required")
        cache = await self._cache(model)
        when = ensure_utc(time) if time is not None else cache.latest(symbol)
        if when is not None:
            row = cache.row(symbol, when)
            if row is not None:
                return row
        # Not in the materialized version: a bar ingested after it, or a bad request.
        _, computed = await self.features.read_features(
            model.feature_view.name,
            model.feature_view.version,
            [symbol],
            None,
            None,
            computed=True,
        )
        cache.add(computed)
        if computed.num_rows == 0:
            raise NotFound(f"no features for symbol {symbol}", reason="SYMBOL_NOT_FOUND")
        if time is None:
            return computed.slice(computed.num_rows - 1, 1)
        row = cache.row(symbol, ensure_utc(time))
        if row is None:
            first = computed.column("time")[0].as_py()
            last = computed.column("time")[computed.num_rows - 1].as_py()
            raise OutOfRange(
                f"{symbol} has no bar at {ensure_utc(time).isoformat()}; its bars run from "
                f"{first.isoformat()} to {last.isoformat()}",
                reason="TIME_OUT_OF_RANGE",
                metadata={"symbol": symbol, "first_time": first.isoformat()},
            )
        return row

    async def _feature_rows_for(self, model: ScoringModel, keys: pa.Table) -> pa.Table:
        cache = await self._cache(model)
        symbols = [s.upper() for s in keys.column("symbol").to_pylist()]
        times = keys.column("time").cast(TIME_TYPE).to_pylist()
        parts: list[pa.Table] = []
        for symbol, when in zip(symbols, times, strict=True):
            row = cache.row(symbol, when)
            parts.append(row if row is not None else await self._feature_row(model, symbol, when))
        return pa.concat_tables(parts)

    # -- live signals -----------------------------------------------------------------------

    async def subscribe(
        self,
        ref: ModelRef,
        symbols: Sequence[str],
        resume_after: int | None,
        heartbeat_s: float | None = None,
    ) -> tuple[ScoringModel, Subscription]:
        """A signal stream for `ref` and the model version it resolves to now; the stream is
        followed (scored on every ingest) from now on, also while nobody listens, so resuming
        later misses nothing."""
        model = await self.resolver.aget(ref)  # NotFound for an unknown model or alias
        await asyncio.to_thread(self.follow.add_stream, stream_key(ref))
        subscription = await self.hub.subscribe(ref, symbols or None, resume_after)
        subscription.heartbeat_s = heartbeat_s
        return model, subscription

    async def score_notice(self, notice: BatchNotice) -> int:
        """Score the bars of one committed batch for every followed stream; batches published."""
        published = 0
        streams = self.follow.known_streams()
        if streams is None:
            streams = await asyncio.to_thread(self.follow.streams)
        due: list[ModelRef] = []
        for key in streams:
            ref = ModelRef.parse(key)
            # An alias due for a refresh is scored with the version it resolved to last (as
            # `aget` would answer) and refreshed once the batches are out: the registry query
            # holds the GIL for tens of ms, which would delay the live features and scores.
            model = self.resolver.without_refresh(ref)
            if model is not None:
                due.append(ref)
            else:
                try:
                    model = await self.resolver.aget(ref)
                except NotFound as exc:
                    log.warning("not scoring stream %s: %s", key, exc.message)
                    continue
            if notice.first_time is None:
                continue
            view, computed = await self.features.read_features(
                model.feature_view.name,
                model.feature_view.version,
                notice.symbols,
                notice.first_time,
                None,
                computed=True,
            )
            if computed.num_rows == 0 or view.frequency is not notice.frequency:
                continue
            self._rows.setdefault(view.version, FeatureRows()).add(computed)
            scores = await asyncio.to_thread(model.score, computed)
            batches = await self.hub.publish_scores(ref, model, scores)
            published += len(batches)
        await asyncio.to_thread(self.follow.set_watermark, notice.ingested_at)
        for ref in due:  # the signals are on their way: start the refreshes that are due
            try:
                await self.resolver.aget(ref)
            except QuantmeshError as exc:  # served from memory above; retried on the next call
                log.warning("refreshing %s failed: %s", ref, exc.message)
        return published

    async def follow_ingests(self, heartbeat_s: float = 5.0, retry_s: float = 1.0) -> None:
        """Score every committed batch, forever: replay what was missed, then follow live.

        Reconnects after marketdata restarts; resumes after the last batch it scored, so the
        signal log has no gap across restarts of either service.
        """
        while True:
            after = await asyncio.to_thread(self.follow.watermark)
            try:
                async for notice in self.features.watch_ingests(after, None, heartbeat_s):
                    if notice is not None:
                        await self.score_notice(notice)
            except asyncio.CancelledError:
                raise
            except QuantmeshError as exc:
                log.info("ingest watch ended (%s); reconnecting in %.1fs", exc.message, retry_s)
            except Exception:
                log.exception("ingest follower failed; reconnecting in %.1fs", retry_s)
            await asyncio.sleep(retry_s)

    async def close(self) -> None:
        await self.hub.close()


def _order(version: ModelVersionInfo) -> tuple[str, int]:
    return (version.name, -version.version)
