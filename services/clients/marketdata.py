"""Typed async client of the marketdata service; same interface as the domain object."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime

import grpc
import pyarrow as pa
from quantmesh.common.v1 import arrow_pb2
from quantmesh.marketdata.v1 import marketdata_pb2 as pb
from quantmesh.marketdata.v1 import marketdata_pb2_grpc

from services.clients.base import ServiceClient
from services.marketdata import codec
from services.marketdata.domain.bar_table import STORED_BAR_SCHEMA, TIME_TYPE, Frequency
from services.marketdata.domain.feature_service import FeatureViewPage
from services.marketdata.domain.features.registry import FeatureViewVersion
from services.marketdata.domain.service import IngestReport, SymbolInfo, SymbolPage
from services.marketdata.domain.store import BatchNotice
from services.runtime.arrow_frames import concat_tables, encode_table, split_table
from services.runtime.errors import Internal
from services.runtime.frame_wire import ReceivedFrame
from services.runtime.status_codes import from_rpc_error
from services.runtime.time_convert import to_time_range, to_timestamp


class MarketDataClient(ServiceClient):
    def __init__(self, channel: grpc.aio.Channel, **kwargs: object) -> None:
        super().__init__(channel, **kwargs)  # type: ignore[arg-type]
        self._stub = marketdata_pb2_grpc.MarketDataServiceStub(channel)
        service = pb.DESCRIPTOR.services_by_name["MarketDataService"].full_name
        self._get_bars = self._framed_stream(service, "GetBars", pb.GetBarsRequest, codec.BARS_WIRE)
        self._get_features = self._framed_stream(
            service, "GetFeatures", pb.GetFeaturesRequest, codec.FEATURES_WIRE
        )
        self._get_labels = self._framed_stream(
            service, "GetLabels", pb.GetLabelsRequest, codec.LABELS_WIRE
        )

    async def ingest(
        self,
        bars: pa.Table | Iterable[pa.Table],
        frequency: Frequency | None,
        source: str = "",
        *,
        force: bool = False,
        timeout: float | None = None,
    ) -> IngestReport:
        """Send one batch (a table, or tables streamed as chunks); all rows commit or none."""
        tables = [bars] if isinstance(bars, pa.Table) else list(bars)

        def requests() -> Iterable[pb.IngestBarsRequest]:
            index = 0
            for table in tables:
                for chunk in split_table(table):
                    yield pb.IngestBarsRequest(
                        frequency=codec.frequency_to_pb(frequency if index == 0 else None),
                        source=source if index == 0 else "",
                        force=force and index == 0,
                        frame=arrow_pb2.ArrowFrame(
                            ipc_stream=encode_table(chunk),
                            row_count=chunk.num_rows,
                            chunk_index=index,
                        ),
                    )
                    index += 1

        try:
            response = await self._stub.IngestBars(requests(), **self._options(timeout))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return codec.report_from_pb(response)

    async def iter_bars(
        self,
        symbols: Sequence[str] = (),
        frequency: Frequency | None = Frequency.DAILY,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        *,
        max_rows_per_chunk: int = 0,
        timeout: float | None = None,
    ) -> AsyncIterator[pa.Table]:
        """The bars as they stream in, one Arrow table per chunk."""
        request = pb.GetBarsRequest(
            symbols=list(symbols),
            frequency=codec.frequency_to_pb(frequency),
            max_rows_per_chunk=max_rows_per_chunk,
        )
        request.time_range.CopyFrom(to_time_range(start, end))
        if as_of is not None:
            request.as_of.CopyFrom(to_timestamp(as_of))
        received: ReceivedFrame[pb.GetBarsResponse]
        async for received in self._stream(self._get_bars, request, timeout):
            if received.table is not None:
                yield received.table

    async def get_bars(
        self,
        symbols: Sequence[str] = (),
        frequency: Frequency | None = Frequency.DAILY,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> pa.Table:
        """All requested bars as one table (symbol, time order), as known at `as_of`."""
        chunks = [
            chunk
            async for chunk in self.iter_bars(
                symbols, frequency, start, end, as_of, timeout=timeout
            )
        ]
        return concat_tables(chunks, STORED_BAR_SCHEMA)

    async def list_symbols(
        self,
        frequency: Frequency | None = None,
        prefix: str = "",
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: float | None = None,
    ) -> SymbolPage:
        request = pb.ListSymbolsRequest(
            frequency=codec.frequency_to_pb(frequency),
            prefix=prefix,
            page_size=page_size,
            page_token=page_token,
        )
        return codec.page_from_pb(await self._unary(self._stub.ListSymbols, request, timeout))

    async def watch_ingests(
        self,
        after: datetime | None = None,
        frequency: Frequency | None = None,
        heartbeat_s: float = 5.0,
        *,
        timeout: float | None = 0,
    ) -> AsyncIterator[BatchNotice | None]:
        """Committed batches after `after` (replayed first), then live ones; None is a heartbeat.

        The stream has no deadline by default (`timeout=0`); it ends when the server shuts down.
        """
        request = pb.WatchIngestsRequest(
            frequency=codec.frequency_to_pb(frequency),
            heartbeat_interval_ms=round(heartbeat_s * 1000),
        )
        if after is not None:
            request.after.CopyFrom(to_timestamp(after))
        async for message in self._stream(self._stub.WatchIngests, request, timeout):
            yield codec.notice_from_pb(message.notice) if message.HasField("notice") else None

    async def materialize_features(
        self,
        view: str = "default",
        frequency: Frequency | None = Frequency.DAILY,
        symbols: Sequence[str] = (),
        definition_json: str = "",
        *,
        timeout: float | None = None,
    ) -> FeatureViewVersion:
        request = pb.MaterializeFeaturesRequest(
            view=view,
            frequency=codec.frequency_to_pb(frequency),
            symbols=list(symbols),
            definition_json=definition_json,
        )
        response = await self._unary(self._stub.MaterializeFeatures, request, timeout)
        return codec.view_from_pb(response.view)

    async def list_feature_views(
        self,
        name: str = "",
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: float | None = None,
    ) -> FeatureViewPage:
        request = pb.ListFeatureViewsRequest(name=name, page_size=page_size, page_token=page_token)
        response = await self._unary(self._stub.ListFeatureViews, request, timeout)
        return FeatureViewPage(
            [codec.view_from_pb(v) for v in response.views], response.next_page_token
        )

    async def get_features(
        self,
        view: str = "default",
        version: str | None = None,
        symbols: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        features: Sequence[str] | None = None,
        computed: bool = False,
        *,
        timeout: float | None = None,
    ) -> tuple[FeatureViewVersion, pa.Table]:
        """The version read and its rows (symbol, time, features) in [start, end)."""
        request = pb.GetFeaturesRequest(
            view=view,
            version=version or "",
            symbols=list(symbols),
            time_range=to_time_range(start, end),
            features=list(features or ()),
            source=pb.FEATURE_SOURCE_COMPUTED if computed else pb.FEATURE_SOURCE_MATERIALIZED,
        )
        if as_of is not None:
            request.as_of.CopyFrom(to_timestamp(as_of))
        found: FeatureViewVersion | None = None
        chunks: list[pa.Table] = []
        received: ReceivedFrame[pb.GetFeaturesResponse]
        async for received in self._stream(self._get_features, request, timeout):
            if received.header.HasField("view"):
                found = codec.view_from_pb(received.header.view)
            if received.table is not None:
                chunks.append(received.table)
        if found is None:
            raise Internal("GetFeatures answered without naming the version read")
        names = list(features) if features else list(found.feature_names)
        schema = pa.schema(
            [pa.field("symbol", pa.string()), pa.field("time", TIME_TYPE)]
            + [pa.field(n, pa.float64()) for n in names]
        )
        return found, concat_tables(chunks, schema)

    async def get_labels(
        self,
        symbols: Sequence[str] = (),
        frequency: Frequency | None = Frequency.DAILY,
        start: datetime | None = None,
        end: datetime | None = None,
        horizons: Sequence[int] = (),
        as_of: datetime | None = None,
        *,
        timeout: float | None = None,
    ) -> pa.Table:
        request = pb.GetLabelsRequest(
            symbols=list(symbols),
            frequency=codec.frequency_to_pb(frequency),
            time_range=to_time_range(start, end),
            horizons=list(horizons),
        )
        if as_of is not None:
            request.as_of.CopyFrom(to_timestamp(as_of))
        chunks = [
            received.table
            async for received in self._stream(self._get_labels, request, timeout)
            if received.table is not None
        ]
        return pa.concat_tables(chunks) if chunks else pa.table({})

    async def delete_feature_view(
        self, name: str, version: str, *, timeout: float | None = None
    ) -> FeatureViewVersion:
        request = pb.DeleteFeatureViewRequest(name=name, version=version)
        response = await self._unary(self._stub.DeleteFeatureView, request, timeout)
        return codec.view_from_pb(response.view)

    async def all_symbols(
        self, frequency: Frequency | None = None, prefix: str = "", *, timeout: float | None = None
    ) -> list[SymbolInfo]:
        """Every page of `list_symbols`, concatenated."""
        symbols: list[SymbolInfo] = []
        token = ""
        while True:
            page = await self.list_symbols(frequency, prefix, 1000, token, timeout=timeout)
            symbols += page.symbols
            token = page.next_page_token
            if not token:
                return symbols
