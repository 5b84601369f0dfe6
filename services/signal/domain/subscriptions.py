"""Signal subscriptions: live fan-out of logged signal batches, with lossless resume.

A subscriber names a stream (a model alias, `name@alias`), its symbols (or all) and optionally
`resume_after`, a log sequence it has already seen. Each message carries, for one bar time, the
signals of its symbols. Resume, heartbeats, slow consumers and shutdown follow the shared
machinery in `services.runtime.log_streams`; this module adds what is signal-specific: stream
names are model aliases, and score tables are published as one batch per bar time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa

from services.runtime import log_streams
from services.runtime.errors import InvalidArgument
from services.signal.domain.refs import ModelRef
from services.signal.domain.scoring import SCORE_SCHEMA, ScoringModel
from services.signal.domain.signal_log import Signal, SignalBatch, SignalLog

SignalMessage = log_streams.StreamMessage[SignalBatch]
Subscription = log_streams.Subscription[SignalBatch]


def stream_key(ref: ModelRef | str) -> str:
    """The stream name of a model alias, `name@alias`; InvalidArgument for a pinned version."""
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    if ref.alias is None:
        raise InvalidArgument.for_field(
            "model", "subscribe to an alias (name@alias), not a version"
        )
    return str(ref)


class SubscriptionHub(log_streams.SubscriptionHub[SignalBatch]):
    """Fans signal batches out to subscribers; one per service, on the event loop."""

    def __init__(
        self,
        log: SignalLog,
        *,
        queue_size: int = 256,
        heartbeat_s: float = 5.0,
        catch_up_page: int = 500,
        max_subscribers: int = 10_000,
    ) -> None:
        super().__init__(
            log,
            queue_size=queue_size,
            heartbeat_s=heartbeat_s,
            catch_up_page=catch_up_page,
            max_subscribers=max_subscribers,
            service="the signal service",
        )
        self.signal_log = log

    async def subscribe(  # type: ignore[override]
        self,
        stream: ModelRef | str,
        symbols: Collection[str] | None = None,
        resume_after: int | None = None,
    ) -> Subscription:
        """A subscription to the alias `stream` for `symbols` (None or empty: all)."""
        return await super().subscribe(stream_key(stream), symbols, resume_after)

    async def publish(  # type: ignore[override]
        self,
        stream: ModelRef | str,
        model_version: int,
        feature_view_version: str,
        bar_time: datetime,
        signals: Sequence[Signal],
    ) -> SignalBatch | None:
        """Log the batch and fan it out; None when every signal was already logged."""
        key = stream_key(stream)
        rows = list(signals)
        return await super().publish(
            lambda: self.signal_log.append(key, model_version, feature_view_version, bar_time, rows)
        )

    async def publish_scores(
        self, stream: ModelRef | str, model: ScoringModel, scores: pa.Table
    ) -> list[SignalBatch]:
        """Publish a score table (symbol, time, score) as one batch per bar time, oldest first."""
        missing = [c for c in SCORE_SCHEMA.names if c not in scores.column_names]
        if missing:
            raise InvalidArgument.for_field("scores", f"missing column(s) {', '.join(missing)}")
        if scores.num_rows == 0:
            return []
        times = scores.column("time").cast(pa.int64()).to_numpy()
        symbols = scores.column("symbol").to_pylist()
        values = scores.column("score").to_numpy()
        bar_times = scores.column("time").to_pylist()
        published = []
        order = np.argsort(times, kind="stable")
        starts = np.flatnonzero(np.diff(times[order], prepend=times[order][0] - 1))
        for begin, end in zip(starts, [*starts[1:], len(order)], strict=True):
            rows = order[begin:end]
            batch = await self.publish(
                stream,
                model.version,
                model.feature_view.version,
                bar_times[rows[0]],
                [Signal(symbols[i], float(values[i])) for i in rows],
            )
            if batch is not None:
                published.append(batch)
        return published
