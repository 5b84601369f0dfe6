"""SignalService over gRPC: decode the request, call the domain, encode the reply."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator

import pyarrow as pa
from grpc import aio
from quantmesh.common.v1 import arrow_pb2
from quantmesh.signal.v1 import signal_pb2 as pb
from quantmesh.signal.v1 import signal_pb2_grpc

from services.runtime import telemetry
from services.runtime.arrow_frames import decode_table, encode_table
from services.runtime.errors import InvalidArgument
from services.runtime.model_refs import ref_from_pb
from services.runtime.operations.manager import OperationManager, Progress
from services.runtime.streams import heartbeat_seconds
from services.runtime.time_convert import optional_from_timestamp, to_timestamp, utc_now
from services.signal import codec
from services.signal.domain.registry import ModelVersionInfo
from services.signal.domain.scoring import ScoringModel
from services.signal.domain.service import Signals
from services.signal.domain.signal_log import SignalBatch

OPERATION_KIND = "train_model"
#: Signal batches whose message is kept for the next subscribers to receive them.
BATCH_MESSAGES = 64


def _annotate(model: ScoringModel | ModelVersionInfo) -> None:
    """A model version (served or registered) and its feature version, on the current span."""
    telemetry.annotate(
        {
            telemetry.MODEL_NAME: model.name,
            telemetry.MODEL_VERSION: model.version,
            telemetry.FEATURE_VIEW: model.feature_view.name,
            telemetry.FEATURE_VERSION: model.feature_view.version,
        }
    )


class SignalServicer(signal_pb2_grpc.SignalServiceServicer):
    def __init__(self, domain: Signals, operations: OperationManager) -> None:
        self._domain = domain
        self._operations = operations
        self._infos: dict[tuple[str, int], pb.ModelInfo] = {}
        # id(batch) -> (batch, its message): a batch fanned out to many subscribers is the same
        # object for each (per symbol filter), so its message is built once, not once per
        # subscriber. Holding the batch keeps its id from being reused while the entry lives.
        self._batches: OrderedDict[int, tuple[SignalBatch, pb.SignalBatch]] = OrderedDict()

    async def TrainModel(
        self, request: pb.TrainModelRequest, context: aio.ServicerContext
    ) -> pb.TrainModelResponse:
        train = codec.train_request_from_pb(request)
        telemetry.annotate(
            {
                telemetry.MODEL_NAME: train.model_name,
                telemetry.FEATURE_VIEW: train.feature_view,
                telemetry.FEATURE_VERSION: train.feature_version or None,
            }
        )
        # Bad input fails the call, not the operation.
        self._domain.prepare(train)
        await self._domain.check_sources(train)

        async def job(progress: Progress) -> pb.TrainingReport:
            cancel = threading.Event()
            try:
                outcome = await self._domain.train(train, progress.update, cancel)
            except asyncio.CancelledError:
                cancel.set()
                raise
            _annotate(outcome.model)  # on the operation's span: the version registered
            return codec.report_to_pb(outcome.model, outcome.result)

        fingerprint = hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
        record = await self._operations.submit(OPERATION_KIND, job, request.request_id, fingerprint)
        return pb.TrainModelResponse(operation=record.name)

    async def Score(
        self, request: pb.ScoreRequest, context: aio.ServicerContext
    ) -> pb.ScoreResponse:
        outcome = await self._domain.score(
            ref_from_pb(request.model),
            request.symbol,
            optional_from_timestamp(request, "time"),
        )
        _annotate(outcome.model)
        return pb.ScoreResponse(
            symbol=outcome.symbol,
            time=to_timestamp(outcome.time),
            score=outcome.score,
            model=self._model_info(outcome.model),
        )

    def _model_info(self, model: ScoringModel) -> pb.ModelInfo:
        """The ModelInfo of a served model, built once per model version."""
        key = (model.name, model.version)
        info = self._infos.get(key)
        if info is None:
            info = self._infos[key] = codec.scoring_model_to_pb(model)
        return info

    async def ScoreBatch(
        self, request: pb.ScoreBatchRequest, context: aio.ServicerContext
    ) -> pb.ScoreBatchResponse:
        if not request.rows.ipc_stream:
            raise InvalidArgument.for_field("rows", "the batch has no rows")
        try:
            rows = decode_table(request.rows.ipc_stream)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidArgument.for_field(
                "rows.ipc_stream", f"is not an Arrow IPC stream: {exc}"
            ) from None
        model, scores = await self._domain.score_batch(ref_from_pb(request.model), rows)
        _annotate(model)
        return pb.ScoreBatchResponse(
            scores=arrow_pb2.ArrowFrame(ipc_stream=encode_table(scores), row_count=scores.num_rows),
            model_name=model.name,
            model_version=model.version,
            feature_version=model.feature_view.version,
        )

    async def ExplainPrediction(
        self, request: pb.ExplainPredictionRequest, context: aio.ServicerContext
    ) -> pb.ExplainPredictionResponse:
        if request.top < 0:
            raise InvalidArgument.for_field("top", "must be >= 0")
        outcome = await self._domain.explain(
            ref_from_pb(request.model),
            request.symbol,
            optional_from_timestamp(request, "time"),
        )
        _annotate(outcome.model)
        row = outcome.explanation
        ranked = sorted(row.contributions.items(), key=lambda kv: -abs(kv[1]))
        if request.top:
            ranked = ranked[: request.top]
        return pb.ExplainPredictionResponse(
            symbol=row.symbol,
            time=to_timestamp(row.time),
            score=row.score,
            raw_score=row.raw_score,
            bias=row.bias,
            contributions=[
                pb.Contribution(feature=name, value=row.values[name], contribution=value)
                for name, value in ranked
            ],
            model=codec.scoring_model_to_pb(outcome.model),
        )

    async def ListModels(
        self, request: pb.ListModelsRequest, context: aio.ServicerContext
    ) -> pb.ListModelsResponse:
        page = await self._domain.list_models(request.name, request.page_size, request.page_token)
        return pb.ListModelsResponse(
            models=[codec.info_to_pb(info) for info in page.models],
            next_page_token=page.next_page_token,
        )

    async def PromoteModel(
        self, request: pb.PromoteModelRequest, context: aio.ServicerContext
    ) -> pb.PromoteModelResponse:
        if not request.name:
            raise InvalidArgument.for_field("name", "is required")
        if request.version < 1:
            raise InvalidArgument.for_field("version", "is required (a version number >= 1)")
        promotion = await self._domain.promote(request.name, request.version, request.alias)
        return pb.PromoteModelResponse(
            model=codec.info_to_pb(promotion.version),
            previous_version=promotion.previous_version or 0,
        )

    def _batch_message(self, batch: SignalBatch) -> pb.SignalBatch:
        """The SignalBatch message of a logged batch, built once per batch object."""
        entry = self._batches.get(id(batch))
        if entry is not None and entry[0] is batch:
            return entry[1]
        message = pb.SignalBatch(
            bar_time=to_timestamp(batch.bar_time),
            signals=[pb.Signal(symbol=s.symbol, score=s.score) for s in batch.signals],
            model_name=batch.stream.partition("@")[0],
            model_version=batch.model_version,
            feature_version=batch.feature_view_version,
        )
        self._batches[id(batch)] = (batch, message)
        while len(self._batches) > BATCH_MESSAGES:
            self._batches.popitem(last=False)
        return message

    async def SubscribeSignals(
        self, request: pb.SubscribeSignalsRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.SubscribeSignalsResponse]:
        heartbeat_s = heartbeat_seconds(request.heartbeat_interval_ms)
        model, subscription = await self._domain.subscribe(
            ref_from_pb(request.model),
            list(request.symbols),
            request.resume_after if request.HasField("resume_after") else None,
            heartbeat_s,
        )
        _annotate(model)  # the version when subscribing; each batch names the one it came from
        async with subscription:
            async for message in subscription:
                if message.batch is None:
                    yield pb.SubscribeSignalsResponse(
                        sequence=message.stream_sequence,
                        cursor=message.log_sequence,
                        heartbeat=pb.Heartbeat(time=to_timestamp(utc_now())),
                    )
                    continue
                response = pb.SubscribeSignalsResponse(
                    sequence=message.stream_sequence, cursor=message.log_sequence
                )
                response.signals.CopyFrom(self._batch_message(message.batch))
                yield response
