"""MarketDataService over gRPC: decode the request, call the domain, encode the reply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pyarrow as pa
from grpc import aio
from quantmesh.common.v1 import arrow_pb2
from quantmesh.marketdata.v1 import marketdata_pb2 as pb
from quantmesh.marketdata.v1 import marketdata_pb2_grpc

from services.marketdata import codec
from services.marketdata.domain.feature_service import Features
from services.marketdata.domain.features.registry import FeatureViewVersion
from services.marketdata.domain.service import MarketData
from services.runtime import telemetry
from services.runtime.arrow_frames import DEFAULT_CHUNK_ROWS, decode_table, split_table
from services.runtime.errors import InvalidArgument
from services.runtime.frame_wire import FrameChunk
from services.runtime.streams import heartbeat_seconds
from services.runtime.time_convert import optional_from_timestamp, to_timestamp, utc_now

#: The bulk reads' response serializers, which write FrameChunks (see frame_wire).
RESPONSE_SERIALIZERS: Mapping[str, Callable[[Any], bytes]] = {
    "GetBars": codec.BARS_WIRE.serialize,
    "GetFeatures": codec.FEATURES_WIRE.serialize,
    "GetLabels": codec.LABELS_WIRE.serialize,
}


def _annotate(view: FeatureViewVersion) -> None:
    """The feature view version a call wrote or read, on the current span."""
    telemetry.annotate({telemetry.FEATURE_VIEW: view.name, telemetry.FEATURE_VERSION: view.version})


class MarketDataServicer(marketdata_pb2_grpc.MarketDataServiceServicer):
    """The bulk reads yield FrameChunks: register with RESPONSE_SERIALIZERS (see frame_wire)."""

    def __init__(self, domain: MarketData, features: Features) -> None:
        self._domain = domain
        self._features = features

    async def IngestBars(
        self, request_iterator: AsyncIterator[pb.IngestBarsRequest], context: aio.ServicerContext
    ) -> pb.IngestBarsResponse:
        chunks: list[pa.Table] = []
        rows = 0
        frequency = None
        source = ""
        force = False
        index = 0
        async for message in request_iterator:
            declared = codec.frequency_from_pb(message.frequency, f"requests[{index}].frequency")
            if index == 0:
                frequency, source, force = declared, message.source, message.force
            elif declared is not None and declared != frequency:
                raise InvalidArgument.for_field(
                    f"requests[{index}].frequency", "differs from the first message's frequency"
                )
            if message.HasField("frame") and message.frame.ipc_stream:
                chunks.append(_decode_chunk(message.frame, index))
                rows += chunks[-1].num_rows
                # Refuse an oversized stream as it arrives rather than after buffering it all.
                self._domain.check_batch_rows(rows)
            index += 1
        if not chunks:
            raise InvalidArgument.for_field("frame", "the batch has no rows")
        try:
            table = pa.concat_tables(chunks, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidArgument.for_field(
                "frame", f"chunks have incompatible schemas: {exc}"
            ) from None
        report = await self._domain.ingest(table, frequency, source, force)
        return codec.report_to_pb(report)

    async def GetBars(
        self, request: pb.GetBarsRequest, context: aio.ServicerContext
    ) -> AsyncIterator[FrameChunk[pb.GetBarsResponse]]:
        if request.max_rows_per_chunk < 0:
            raise InvalidArgument.for_field("max_rows_per_chunk", "must be >= 0")
        frequency = codec.frequency_from_pb(request.frequency)
        table = await self._domain.get_bars(
            list(request.symbols),
            frequency,
            optional_from_timestamp(request.time_range, "start"),
            optional_from_timestamp(request.time_range, "end"),
            optional_from_timestamp(request, "as_of"),
        )
        max_rows = request.max_rows_per_chunk or DEFAULT_CHUNK_ROWS
        for index, chunk in enumerate(split_table(table, max_rows)):
            yield FrameChunk(chunk, index)

    async def ListSymbols(
        self, request: pb.ListSymbolsRequest, context: aio.ServicerContext
    ) -> pb.ListSymbolsResponse:
        page = await self._domain.list_symbols(
            codec.frequency_from_pb(request.frequency),
            request.prefix,
            request.page_size,
            request.page_token,
        )
        return codec.page_to_pb(page)

    async def WatchIngests(
        self, request: pb.WatchIngestsRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.WatchIngestsResponse]:
        heartbeat_s = heartbeat_seconds(request.heartbeat_interval_ms)
        async for notice in self._domain.watch_ingests(
            optional_from_timestamp(request, "after"),
            codec.frequency_from_pb(request.frequency),
            heartbeat_s,
        ):
            if notice is None:
                yield pb.WatchIngestsResponse(heartbeat_time=to_timestamp(utc_now()))
            else:
                yield pb.WatchIngestsResponse(notice=codec.notice_to_pb(notice))

    async def MaterializeFeatures(
        self, request: pb.MaterializeFeaturesRequest, context: aio.ServicerContext
    ) -> pb.MaterializeFeaturesResponse:
        view = await self._features.materialize(
            request.view,
            codec.frequency_from_pb(request.frequency),
            list(request.symbols),
            request.definition_json,
        )
        _annotate(view)
        return pb.MaterializeFeaturesResponse(view=codec.view_to_pb(view))

    async def ListFeatureViews(
        self, request: pb.ListFeatureViewsRequest, context: aio.ServicerContext
    ) -> pb.ListFeatureViewsResponse:
        page = await self._features.list_views(request.name, request.page_size, request.page_token)
        return pb.ListFeatureViewsResponse(
            views=[codec.view_to_pb(v) for v in page.views], next_page_token=page.next_page_token
        )

    async def GetFeatures(
        self, request: pb.GetFeaturesRequest, context: aio.ServicerContext
    ) -> AsyncIterator[pb.GetFeaturesResponse | FrameChunk[pb.GetFeaturesResponse]]:
        if request.max_rows_per_chunk < 0:
            raise InvalidArgument.for_field("max_rows_per_chunk", "must be >= 0")
        if request.source not in (
            pb.FEATURE_SOURCE_UNSPECIFIED,
            pb.FEATURE_SOURCE_MATERIALIZED,
            pb.FEATURE_SOURCE_COMPUTED,
        ):
            raise InvalidArgument.for_field("source", f"unknown source {request.source}")
        view, table = await self._features.read(
            request.view,
            request.version or None,
            list(request.symbols),
            optional_from_timestamp(request.time_range, "start"),
            optional_from_timestamp(request.time_range, "end"),
            optional_from_timestamp(request, "as_of"),
            list(request.features) or None,
            computed=request.source == pb.FEATURE_SOURCE_COMPUTED,
        )
        _annotate(view)
        max_rows = request.max_rows_per_chunk or DEFAULT_CHUNK_ROWS
        yield pb.GetFeaturesResponse(view=codec.view_to_pb(view))
        for index, chunk in enumerate(split_table(table, max_rows)):
            if chunk.num_rows:
                yield FrameChunk(chunk, index)

    async def GetLabels(
        self, request: pb.GetLabelsRequest, context: aio.ServicerContext
    ) -> AsyncIterator[FrameChunk[pb.GetLabelsResponse]]:
        table = await self._features.labels(
            list(request.symbols),
            codec.frequency_from_pb(request.frequency),
            optional_from_timestamp(request.time_range, "start"),
            optional_from_timestamp(request.time_range, "end"),
            list(request.horizons),
            optional_from_timestamp(request, "as_of"),
        )
        for index, chunk in enumerate(split_table(table, DEFAULT_CHUNK_ROWS)):
            yield FrameChunk(chunk, index)

    async def DeleteFeatureView(
        self, request: pb.DeleteFeatureViewRequest, context: aio.ServicerContext
    ) -> pb.DeleteFeatureViewResponse:
        view = await self._features.delete(request.name, request.version)
        return pb.DeleteFeatureViewResponse(view=codec.view_to_pb(view))


def _decode_chunk(frame: arrow_pb2.ArrowFrame, index: int) -> pa.Table:
    try:
        return decode_table(frame.ipc_stream)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidArgument.for_field(
            f"requests[{index}].frame.ipc_stream", f"is not an Arrow IPC stream: {exc}"
        ) from None
