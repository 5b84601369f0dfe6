"""Typed async client of the signal service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import grpc
import pyarrow as pa
from quantmesh.common.v1 import arrow_pb2
from quantmesh.signal.v1 import signal_pb2 as pb
from quantmesh.signal.v1 import signal_pb2_grpc

from services.clients.base import ServiceClient
from services.runtime.arrow_frames import decode_table, encode_table
from services.runtime.errors import FailedPrecondition, Internal
from services.runtime.model_refs import ref_to_pb
from services.runtime.operations.model import OperationState
from services.runtime.time_convert import from_timestamp, to_timestamp
from services.signal import codec
from services.signal.domain.refs import ModelRef
from services.signal.domain.requests import TrainRequest


@dataclass(frozen=True)
class ScoreAnswer:
    symbol: str
    time: datetime
    score: float
    model: pb.ModelInfo


@dataclass(frozen=True)
class SignalUpdate:
    """One message of a signal stream; `signals` is empty on heartbeats."""

    sequence: int
    cursor: int
    bar_time: datetime | None
    signals: dict[str, float]
    model_version: int
    feature_version: str

    @property
    def heartbeat(self) -> bool:
        return self.bar_time is None


class SignalClient(ServiceClient):
    def __init__(self, channel: grpc.aio.Channel, **kwargs: object) -> None:
        super().__init__(channel, **kwargs)  # type: ignore[arg-type]
        self._stub = signal_pb2_grpc.SignalServiceStub(channel)

    async def train(
        self, request: TrainRequest, request_id: str = "", *, timeout: float | None = None
    ) -> str:
        """Start training; returns the operation name (watch it with `mesh.operations`)."""
        message = codec.train_request_to_pb(request, request_id)
        response = await self._unary(self._stub.TrainModel, message, timeout)
        return str(response.operation)

    async def score(
        self,
        model: ModelRef | str,
        symbol: str,
        time: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> ScoreAnswer:
        request = pb.ScoreRequest(model=ref_to_pb(model), symbol=symbol)
        if time is not None:
            request.time.CopyFrom(to_timestamp(time))
        response = await self._unary(self._stub.Score, request, timeout)
        return ScoreAnswer(
            response.symbol, from_timestamp(response.time), response.score, response.model
        )

    async def score_batch(
        self, model: ModelRef | str, rows: pa.Table, *, timeout: float | None = None
    ) -> pa.Table:
        """Scores (symbol, time, score) of `rows`, in their order."""
        request = pb.ScoreBatchRequest(
            model=ref_to_pb(model),
            rows=arrow_pb2.ArrowFrame(ipc_stream=encode_table(rows), row_count=rows.num_rows),
        )
        response = await self._unary(self._stub.ScoreBatch, request, timeout)
        return decode_table(response.scores.ipc_stream)

    async def explain(
        self,
        model: ModelRef | str,
        symbol: str,
        time: datetime | None = None,
        top: int = 0,
        *,
        timeout: float | None = None,
    ) -> pb.ExplainPredictionResponse:
        request = pb.ExplainPredictionRequest(model=ref_to_pb(model), symbol=symbol, top=top)
        if time is not None:
            request.time.CopyFrom(to_timestamp(time))
        response: pb.ExplainPredictionResponse = await self._unary(
            self._stub.ExplainPrediction, request, timeout
        )
        return response

    async def list_models(
        self,
        name: str = "",
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: float | None = None,
    ) -> pb.ListModelsResponse:
        request = pb.ListModelsRequest(name=name, page_size=page_size, page_token=page_token)
        response: pb.ListModelsResponse = await self._unary(self._stub.ListModels, request, timeout)
        return response

    async def promote(
        self, name: str, version: int, alias: str = "champion", *, timeout: float | None = None
    ) -> pb.PromoteModelResponse:
        request = pb.PromoteModelRequest(name=name, version=version, alias=alias)
        response: pb.PromoteModelResponse = await self._unary(
            self._stub.PromoteModel, request, timeout
        )
        return response

    async def subscribe(
        self,
        model: ModelRef | str,
        symbols: Sequence[str] = (),
        resume_after: int | None = None,
        heartbeat_s: float = 5.0,
        *,
        timeout: float | None = 0,
    ) -> AsyncIterator[SignalUpdate]:
        """Signals as bars are ingested; no deadline by default. Pass the last `cursor` seen as
        `resume_after` to continue after a disconnect without gap or duplicate (0 replays the
        whole log; None starts with live signals)."""
        request = pb.SubscribeSignalsRequest(
            model=ref_to_pb(model),
            symbols=list(symbols),
            heartbeat_interval_ms=round(heartbeat_s * 1000),
        )
        if resume_after is not None:
            request.resume_after = resume_after
        async for message in self._stream(self._stub.SubscribeSignals, request, timeout):
            if message.HasField("signals"):
                batch = message.signals
                yield SignalUpdate(
                    message.sequence,
                    message.cursor,
                    from_timestamp(batch.bar_time),
                    {s.symbol: s.score for s in batch.signals},
                    batch.model_version,
                    batch.feature_version,
                )
            else:
                yield SignalUpdate(message.sequence, message.cursor, None, {}, 0, "")


def training_report(record_result: bytes) -> pb.TrainingReport:
    """The TrainingReport of a finished TrainModel operation's packed result."""
    report = pb.TrainingReport()
    report.ParseFromString(record_result)
    return report


async def wait_for_training(
    operations: object, name: str, *, timeout: float | None = 0
) -> pb.TrainingReport:
    """Wait for a TrainModel operation; its report, or the operation's error raised."""
    record = await operations.wait(name, timeout=timeout)  # type: ignore[attr-defined]
    if record.state is OperationState.SUCCEEDED and record.result is not None:
        return training_report(record.result.value)
    if record.failure is not None:
        raise FailedPrecondition(
            f"training {name} failed: {record.failure.message}",
            reason=record.failure.reason or "TRAINING_FAILED",
        )
    raise Internal(f"training {name} ended {record.state.value} without a report")
