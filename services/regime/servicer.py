"""RegimeService over gRPC: decode the request, call the domain, encode the reply."""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio
from quantmesh.common.v1 import arrow_pb2
from quantmesh.regime.v1 import regime_pb2 as pb
from quantmesh.regime.v1 import regime_pb2_grpc

from services.regime import codec
from services.regime.domain.model import RegimeModel
from services.regime.domain.service import DEFAULT_MODEL, Regimes
from services.runtime import telemetry
from services.runtime.arrow_frames import encode_table, split_table
from services.runtime.model_refs import CHAMPION, ModelRef, ref_from_pb
from services.runtime.pagination import clamp_page_size, decode_page_token, encode_page_token
from services.runtime.streams import heartbeat_seconds
from services.runtime.time_convert import optional_from_timestamp, to_timestamp, utc_now


def _model_ref(
    message: pb.ClassifyRegimeRequest | pb.GetRegimeHistoryRequest | pb.WatchRegimeRequest,
) -> ModelRef:
    """The request's model; unset means the default model's champion."""
    if not message.HasField("model"):
        return ModelRef(DEFAULT_MODEL, alias=CHAMPION)
    return ref_from_pb(message.model)


def _annotate(
    model: RegimeModel, extra: dict[str, str | int | float | bool | None] | None = None
) -> None:
    """The regime model version a call used (and its feature version), on the current span."""
    telemetry.annotate(
        {
            telemetry.MODEL_NAME: model.name,
            telemetry.MODEL_VERSION: model.version,
            telemetry.FEATURE_VERSION: model.feature_version,
            **(extra or {}),
        }
    )


class RegimeServicer(regime_pb2_grpc.RegimeServiceServicer):
    def __init__(self, domain: Regimes) -> None:
        self._domain = domain

    async def FitRegimeModel(
        self, request: pb.FitRegimeModelRequest, context: aio.ServicerContext
    ) -> pb.FitRegimeModelResponse:
        window = request.training_window
        model, created = await self._domain.fit(
            request.name,
            list(request.symbols),
            optional_from_timestamp(window, "start"),
            optional_from_timestamp(window, "end"),
            request.alias,
            request.switch_probability,
        )
        _annotate(model)
        return pb.FitRegimeModelResponse(model=codec.model_to_pb(model), created=created)

    async def ListRegimeModels(
        self, request: pb.ListRegimeModelsRequest, context: aio.ServicerContext
    ) -> pb.ListRegimeModelsResponse:
        size = clamp_page_size(request.page_size, 50, 500)
        filters = {"name": request.name}
        offset = decode_page_token(request.page_token, filters) or 0
        models = self._domain.list_models(request.name, int(offset), size + 1)
        token = encode_page_token(offset + size, filters) if len(models) > size else ""
        return pb.ListRegimeModelsResponse(
            models=[codec.model_to_pb(m) for m in models[:size]], next_page_token=token
        )

    async def ClassifyRegime(
        self, request: pb.ClassifyRegimeRequest, context: aio.ServicerContext
    ) -> pb.ClassifyRegimeResponse:
        result = await self._domain.classify(
            request.symbol, optional_from_timestamp(request, "time"), _model_ref(request)
        )
        _annotate(
            result.model,
            {
                "quantmesh.regime.cache": result.cache_outcome,
                "quantmesh.regime.cache_latency_ms": result.elapsed_s * 1000,
            },
        )
        return pb.ClassifyRegimeResponse(
            symbol=result.symbol,
            bar_time=to_timestamp(result.bar_time),
            regime=codec.regime_to_pb(result.regime),
            probabilities=codec.probabilities_to_pb(result.probabilities),
            model_name=result.model.name,
            model_version=result.model.version,
            feature_version=result.model.feature_version,
            cached=result.cached,
        )

    async def GetRegimeHistory(
        self, request: pb.GetRegimeHistoryRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.GetRegimeHistoryResponse]:
        window = request.time_range
        model, table = await self._domain.history(
            list(request.symbols),
            optional_from_timestamp(window, "start"),
            optional_from_timestamp(window, "end"),
            _model_ref(request),
        )
        _annotate(model)
        for index, chunk in enumerate(split_table(table)):
            yield pb.GetRegimeHistoryResponse(
                frame=arrow_pb2.ArrowFrame(
                    ipc_stream=encode_table(chunk), row_count=chunk.num_rows, chunk_index=index
                ),
                model_name=model.name,
                model_version=model.version,
                feature_version=model.feature_version,
            )

    async def WatchRegime(
        self, request: pb.WatchRegimeRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.WatchRegimeResponse]:
        heartbeat_s = heartbeat_seconds(request.heartbeat_interval_ms)
        resume_after = request.resume_after if request.HasField("resume_after") else None
        model, snapshot, subscription = await self._domain.watch(
            list(request.symbols), _model_ref(request), resume_after
        )
        _annotate(model)
        subscription.heartbeat_s = heartbeat_s
        offset = 0
        async with subscription:
            if snapshot is not None:
                offset = 1
                yield pb.WatchRegimeResponse(
                    sequence=1,
                    cursor=snapshot.sequence,
                    changes=codec.changes_to_pb(snapshot, model.name, model.version, True),
                )
            async for message in subscription:
                sequence = message.stream_sequence + offset
                if message.batch is None:
                    yield pb.WatchRegimeResponse(
                        sequence=sequence,
                        cursor=message.log_sequence,
                        heartbeat=pb.Heartbeat(time=to_timestamp(utc_now())),
                    )
                    continue
                yield pb.WatchRegimeResponse(
                    sequence=sequence,
                    cursor=message.log_sequence,
                    changes=codec.changes_to_pb(message.batch, model.name, model.version),
                )

    async def GetCacheStats(
        self, request: pb.GetCacheStatsRequest, context: aio.ServicerContext
    ) -> pb.GetCacheStatsResponse:
        report = self._domain.cache_report()
        stats = report.stats
        response = pb.GetCacheStatsResponse(
            hits=stats.hits,
            memory_hits=stats.memory_hits,
            misses=stats.misses,
            invalidated=stats.invalidated,
            errors=stats.errors,
            writes=stats.writes,
            hit_rate=stats.hit_rate,
            hit_p50_ms=stats.hit_p50_ms,
            hit_p99_ms=stats.hit_p99_ms,
            miss_p50_ms=stats.miss_p50_ms,
            miss_p99_ms=stats.miss_p99_ms,
            state=codec.cache_state_to_pb(stats.state),
            last_error=stats.last_error,
        )
        if stats.degraded_since is not None:
            response.degraded_since.CopyFrom(to_timestamp(stats.degraded_since))
        if report.ingest_watermark is not None:
            response.ingest_watermark.CopyFrom(to_timestamp(report.ingest_watermark))
        return response
