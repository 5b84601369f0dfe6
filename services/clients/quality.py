"""Typed async client of the quality service (the data-quality sentinel)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import grpc
import pyarrow as pa
from quantmesh.common.v1 import arrow_pb2
from quantmesh.quality.v1 import quality_pb2 as pb
from quantmesh.quality.v1 import quality_pb2_grpc

from services.clients.base import ServiceClient
from services.marketdata import codec as market_codec
from services.marketdata.domain.bar_table import Frequency
from services.quality import codec
from services.quality.domain.findings import Check, RowAssessment, Severity
from services.quality.domain.report import IngestDecision
from services.runtime.arrow_frames import encode_table
from services.runtime.time_convert import from_timestamp, to_time_range, to_timestamp


@dataclass(frozen=True)
class BatchVerdict:
    """The sentinel's answer about a batch (findings highest score first)."""

    decision: IngestDecision
    max_severity: Severity
    summary: str
    event_ids: list[str]
    rows_checked: int
    findings: list[RowAssessment]


class QualityClient(ServiceClient):
    def __init__(self, channel: grpc.aio.Channel, **kwargs: object) -> None:
        super().__init__(channel, **kwargs)  # type: ignore[arg-type]
        self._stub = quality_pb2_grpc.QualityServiceStub(channel)

    async def check_batch(
        self,
        bars: pa.Table,
        frequency: Frequency,
        *,
        batch_id: str = "",
        source: str = "",
        force: bool = False,
        dry_run: bool = False,
        min_ingestion_time: datetime | None = None,
        timeout: float | None = None,
    ) -> BatchVerdict:
        """Check a batch; `min_ingestion_time` fences its history (see the proto field), e.g.
        the `ingestion_time` of the ingest this check must see."""
        request = pb.CheckBatchRequest(
            frequency=market_codec.frequency_to_pb(frequency),
            bars=arrow_pb2.ArrowFrame(ipc_stream=encode_table(bars), row_count=bars.num_rows),
            batch_id=batch_id,
            source=source,
            force=force,
            dry_run=dry_run,
        )
        if min_ingestion_time is not None:
            request.min_ingestion_time.CopyFrom(to_timestamp(min_ingestion_time))
        response = await self._unary(self._stub.CheckBatch, request, timeout)
        return BatchVerdict(
            decision=codec.decision_from_pb(response.decision),
            max_severity=codec.severity_from_pb(response.max_severity, "max_severity"),
            summary=response.summary,
            event_ids=list(response.event_ids),
            rows_checked=response.rows_checked,
            findings=[_finding(i, f) for i, f in enumerate(response.findings)],
        )

    async def score_series(
        self,
        times: Sequence[datetime],
        values: Sequence[float],
        name: str = "value",
        *,
        timeout: float | None = None,
    ) -> pb.ScoreSeriesResponse:
        request = pb.ScoreSeriesRequest(
            name=name,
            points=[
                pb.SeriesPoint(time=to_timestamp(t), value=v)
                for t, v in zip(times, values, strict=True)
            ],
        )
        response: pb.ScoreSeriesResponse = await self._unary(
            self._stub.ScoreSeries, request, timeout
        )
        return response

    async def list_events(
        self,
        symbol: str = "",
        check: str = "",
        min_severity: Severity = Severity.NONE,
        page_size: int = 0,
        page_token: str = "",
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        timeout: float | None = None,
    ) -> pb.ListEventsResponse:
        request = pb.ListEventsRequest(
            symbol=symbol,
            check=check,
            min_severity=codec.severity_to_pb(min_severity),
            time_range=to_time_range(start, end),
            page_size=page_size,
            page_token=page_token,
        )
        response: pb.ListEventsResponse = await self._unary(self._stub.ListEvents, request, timeout)
        return response

    async def summary(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        latest_alerts: int = 10,
        *,
        timeout: float | None = None,
    ) -> pb.GetQualitySummaryResponse:
        request = pb.GetQualitySummaryRequest(
            window=to_time_range(start, end), latest_alerts=latest_alerts
        )
        response: pb.GetQualitySummaryResponse = await self._unary(
            self._stub.GetQualitySummary, request, timeout
        )
        return response

    async def acknowledge(
        self, event_id: str, by: str = "", *, timeout: float | None = None
    ) -> pb.DataQualityEvent:
        request = pb.AcknowledgeEventRequest(id=event_id, acknowledged_by=by)
        response = await self._unary(self._stub.AcknowledgeEvent, request, timeout)
        event: pb.DataQualityEvent = response.event
        return event

    async def refit(
        self,
        symbols: Sequence[str] = (),
        frequency: Frequency = Frequency.DAILY,
        *,
        timeout: float | None = None,
    ) -> pb.RefitModelsResponse:
        request = pb.RefitModelsRequest(
            symbols=list(symbols), frequency=market_codec.frequency_to_pb(frequency)
        )
        response: pb.RefitModelsResponse = await self._unary(
            self._stub.RefitModels, request, timeout
        )
        return response


def _finding(index: int, message: pb.Finding) -> RowAssessment:
    reasons = tuple(codec.reason_from_pb(r) for r in message.reasons)
    checks = tuple(dict.fromkeys([Check.parse(message.check), *(r.check for r in reasons)]))
    return RowAssessment(
        row=index,
        symbol=message.symbol,
        time=from_timestamp(message.time) if message.HasField("time") else None,
        score=message.score,
        severity=codec.severity_from_pb(message.severity, "severity"),
        checks=checks,
        reasons=reasons,
    )
