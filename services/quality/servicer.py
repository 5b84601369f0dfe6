"""QualityService over gRPC: decode the request, call the sentinel, encode the reply."""

from __future__ import annotations

from grpc import aio
from quantmesh.quality.v1 import quality_pb2 as pb
from quantmesh.quality.v1 import quality_pb2_grpc

from services.marketdata import codec as market_codec
from services.quality import codec
from services.quality.domain.events import EventFilter
from services.quality.domain.findings import Check, Severity
from services.quality.domain.report import IngestDecision
from services.quality.domain.sentinel import Sentinel
from services.runtime.arrow_frames import decode_table
from services.runtime.errors import InvalidArgument, ResourceExhausted
from services.runtime.time_convert import from_timestamp, optional_from_timestamp

MAX_BATCH_ROWS = 1_000_000
MAX_SERIES_POINTS = 1_000_000


class QualityServicer(quality_pb2_grpc.QualityServiceServicer):
    def __init__(self, sentinel: Sentinel) -> None:
        self._sentinel = sentinel

    async def CheckBatch(
        self, request: pb.CheckBatchRequest, context: aio.ServicerContext
    ) -> pb.CheckBatchResponse:
        frequency = market_codec.frequency_from_pb(request.frequency)
        if frequency is None:
            raise InvalidArgument.for_field("frequency", "is required (1d or 1m)")
        if not request.bars.ipc_stream:
            raise InvalidArgument.for_field("bars", "the batch has no rows")
        try:
            bars = decode_table(request.bars.ipc_stream)
        except Exception as exc:  # Arrow raises several types for garbage
            raise InvalidArgument.for_field(
                "bars.ipc_stream", f"is not an Arrow IPC stream: {exc}"
            ) from None
        if bars.num_rows > MAX_BATCH_ROWS:
            raise ResourceExhausted(
                f"batch of {bars.num_rows} rows exceeds the limit of {MAX_BATCH_ROWS}",
                metadata={"rows": str(bars.num_rows), "limit": str(MAX_BATCH_ROWS)},
            )
        inspection = await self._sentinel.inspect(
            bars,
            frequency,
            batch_id=request.batch_id or None,
            source=request.source,
            force=request.force,
            record=not request.dry_run,
            decision=IngestDecision.CHECKED if request.dry_run else None,
            min_ingestion_time=optional_from_timestamp(request, "min_ingestion_time"),
        )
        report = inspection.report
        findings = sorted(report.assessments, key=lambda a: -a.score)
        return pb.CheckBatchResponse(
            findings=[codec.finding_to_pb(a) for a in findings],
            max_severity=codec.severity_to_pb(report.max_severity),
            decision=codec.decision_to_pb(inspection.decision),
            event_ids=inspection.event_ids,
            rows_checked=report.rows,
            summary=inspection.summary,
        )

    async def ScoreSeries(
        self, request: pb.ScoreSeriesRequest, context: aio.ServicerContext
    ) -> pb.ScoreSeriesResponse:
        if len(request.points) > MAX_SERIES_POINTS:
            raise ResourceExhausted(f"series of more than {MAX_SERIES_POINTS} points")
        times = [from_timestamp(p.time) for p in request.points]
        values = [p.value for p in request.points]
        scores = self._sentinel.score_series(times, values, name=request.name or "value")
        return pb.ScoreSeriesResponse(
            points=[
                _scored_point(point, float(scores.scores[i]), int(scores.severities[i]),
                              scores.reasons[i])
                for i, point in enumerate(request.points)
            ]
        )  # fmt: skip

    async def ListEvents(
        self, request: pb.ListEventsRequest, context: aio.ServicerContext
    ) -> pb.ListEventsResponse:
        filters = EventFilter(
            symbol=request.symbol,
            check=Check.parse(request.check) if request.check else None,
            min_severity=codec.severity_from_pb(request.min_severity),
            status=codec.status_from_pb(request.status),
            start=optional_from_timestamp(request.time_range, "start"),
            end=optional_from_timestamp(request.time_range, "end"),
        )
        page = await self._sentinel.list_events(filters, request.page_size, request.page_token)
        return pb.ListEventsResponse(
            events=[codec.event_to_pb(e) for e in page.events],
            next_page_token=page.next_page_token,
        )

    async def GetQualitySummary(
        self, request: pb.GetQualitySummaryRequest, context: aio.ServicerContext
    ) -> pb.GetQualitySummaryResponse:
        if not 0 <= request.latest_alerts <= 100:
            raise InvalidArgument.for_field("latest_alerts", "must lie in [0, 100]")
        summary = await self._sentinel.summary(
            optional_from_timestamp(request.window, "start"),
            optional_from_timestamp(request.window, "end"),
            request.latest_alerts or 10,
        )
        return codec.summary_to_pb(summary)

    async def AcknowledgeEvent(
        self, request: pb.AcknowledgeEventRequest, context: aio.ServicerContext
    ) -> pb.AcknowledgeEventResponse:
        if not request.id:
            raise InvalidArgument.for_field("id", "is required")
        event = await self._sentinel.acknowledge(request.id, request.acknowledged_by)
        return pb.AcknowledgeEventResponse(event=codec.event_to_pb(event))

    async def RefitModels(
        self, request: pb.RefitModelsRequest, context: aio.ServicerContext
    ) -> pb.RefitModelsResponse:
        frequency = market_codec.frequency_from_pb(request.frequency)
        if frequency is None:
            raise InvalidArgument.for_field("frequency", "is required (1d or 1m)")
        report = await self._sentinel.refresh_models(list(request.symbols), frequency)
        return pb.RefitModelsResponse(symbols=report.fitted, skipped=report.skipped)


def _scored_point(point: pb.SeriesPoint, score: float, level: int, reason: str) -> pb.ScoredPoint:
    severity = codec.severity_to_pb(Severity(level))
    reasons = [pb.Reason(check=Check.SERIES_OUTLIER.value, score=score, severity=severity,
                         detail=reason)] if reason else []  # fmt: skip
    return pb.ScoredPoint(
        time=point.time, value=point.value, score=score, severity=severity, reasons=reasons
    )
