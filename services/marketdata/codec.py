"""Protobuf <-> domain conversions for marketdata, shared by the servicer and the client."""

from __future__ import annotations

from quantmesh.common.v1 import bar_pb2
from quantmesh.marketdata.v1 import marketdata_pb2 as pb

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.features.definition import FeatureViewDefinition
from services.marketdata.domain.features.registry import FeatureViewVersion
from services.marketdata.domain.gate import IngestOutcome
from services.marketdata.domain.service import IngestReport, SymbolInfo, SymbolPage
from services.marketdata.domain.store import BatchNotice, Coverage, SymbolCounts
from services.runtime.errors import InvalidArgument
from services.runtime.frame_wire import FrameCodec
from services.runtime.time_convert import from_timestamp, to_timestamp

#: The bulk reads' wire codecs, shared by the servicer and the client (see frame_wire).
BARS_WIRE = FrameCodec(pb.GetBarsResponse, "frame")
FEATURES_WIRE = FrameCodec(pb.GetFeaturesResponse, "frame")
LABELS_WIRE = FrameCodec(pb.GetLabelsResponse, "frame")

_FREQ_TO_PB: dict[Frequency, bar_pb2.Frequency] = {
    Frequency.DAILY: bar_pb2.FREQUENCY_DAILY,
    Frequency.MINUTE: bar_pb2.FREQUENCY_MINUTE,
}
_FREQ_FROM_PB = {v: k for k, v in _FREQ_TO_PB.items()}
_OUTCOME_TO_PB: dict[IngestOutcome, pb.IngestOutcome] = {
    IngestOutcome.COMMITTED: pb.INGEST_OUTCOME_COMMITTED,
    IngestOutcome.COMMITTED_UNCHECKED: pb.INGEST_OUTCOME_COMMITTED_UNCHECKED,
    IngestOutcome.COMMITTED_FORCED: pb.INGEST_OUTCOME_COMMITTED_FORCED,
    IngestOutcome.QUARANTINED: pb.INGEST_OUTCOME_QUARANTINED,
}
_OUTCOME_FROM_PB = {v: k for k, v in _OUTCOME_TO_PB.items()}


def frequency_to_pb(frequency: Frequency | None) -> bar_pb2.Frequency:
    return bar_pb2.FREQUENCY_UNSPECIFIED if frequency is None else _FREQ_TO_PB[frequency]


def frequency_from_pb(value: bar_pb2.Frequency, field: str = "frequency") -> Frequency | None:
    """None for UNSPECIFIED; InvalidArgument for a number this build does not know."""
    if value == bar_pb2.FREQUENCY_UNSPECIFIED:
        return None
    if value not in _FREQ_FROM_PB:
        raise InvalidArgument.for_field(field, f"unknown frequency {value}")
    return _FREQ_FROM_PB[value]


def report_to_pb(report: IngestReport) -> pb.IngestBarsResponse:
    return pb.IngestBarsResponse(
        batch_id=report.batch_id,
        ingestion_time=to_timestamp(report.ingestion_time),
        rows_received=report.rows_received,
        rows_inserted=report.rows_inserted,
        rows_revised=report.rows_revised,
        rows_unchanged=report.rows_unchanged,
        symbols=[
            pb.SymbolIngestSummary(
                symbol=c.symbol,
                rows_received=c.received,
                rows_inserted=c.inserted,
                rows_revised=c.revised,
                rows_unchanged=c.unchanged,
            )
            for c in report.symbols
        ],
        quality_gate=report.quality_gate,
        outcome=_OUTCOME_TO_PB[report.outcome],
        quality_event_ids=report.quality_event_ids,
    )


def report_from_pb(message: pb.IngestBarsResponse) -> IngestReport:
    return IngestReport(
        batch_id=message.batch_id,
        ingestion_time=from_timestamp(message.ingestion_time),
        rows_received=message.rows_received,
        rows_inserted=message.rows_inserted,
        rows_revised=message.rows_revised,
        rows_unchanged=message.rows_unchanged,
        symbols=[
            SymbolCounts(
                s.symbol, s.rows_received, s.rows_inserted, s.rows_revised, s.rows_unchanged
            )
            for s in message.symbols
        ],
        quality_gate=message.quality_gate,
        outcome=_OUTCOME_FROM_PB.get(message.outcome, IngestOutcome.COMMITTED_UNCHECKED),
        quality_event_ids=list(message.quality_event_ids),
    )


def notice_to_pb(notice: BatchNotice) -> pb.IngestNotice:
    message = pb.IngestNotice(
        batch_id=notice.batch_id,
        ingestion_time=to_timestamp(notice.ingested_at),
        frequency=frequency_to_pb(notice.frequency),
        symbols=notice.symbols,
        rows_changed=notice.rows_changed,
    )
    if notice.first_time is not None:
        message.first_time.CopyFrom(to_timestamp(notice.first_time))
    if notice.last_time is not None:
        message.last_time.CopyFrom(to_timestamp(notice.last_time))
    return message


def notice_from_pb(message: pb.IngestNotice) -> BatchNotice:
    frequency = frequency_from_pb(message.frequency) or Frequency.DAILY
    return BatchNotice(
        message.batch_id,
        from_timestamp(message.ingestion_time),
        frequency,
        list(message.symbols),
        from_timestamp(message.first_time) if message.HasField("first_time") else None,
        from_timestamp(message.last_time) if message.HasField("last_time") else None,
        message.rows_changed,
    )


def page_to_pb(page: SymbolPage) -> pb.ListSymbolsResponse:
    return pb.ListSymbolsResponse(
        symbols=[
            pb.SymbolInfo(
                symbol=info.symbol,
                series=[
                    pb.SeriesCoverage(
                        frequency=frequency_to_pb(c.frequency),
                        first_time=to_timestamp(c.first_time),
                        last_time=to_timestamp(c.last_time),
                        row_count=c.row_count,
                    )
                    for c in info.series
                ],
            )
            for info in page.symbols
        ],
        next_page_token=page.next_page_token,
    )


def page_from_pb(message: pb.ListSymbolsResponse) -> SymbolPage:
    symbols = []
    for info in message.symbols:
        series = []
        for c in info.series:
            frequency = frequency_from_pb(c.frequency)
            if frequency is None:
                continue
            series.append(
                Coverage(
                    info.symbol,
                    frequency,
                    from_timestamp(c.first_time),
                    from_timestamp(c.last_time),
                    c.row_count,
                )
            )
        symbols.append(SymbolInfo(info.symbol, series))
    return SymbolPage(symbols, message.next_page_token)


def view_to_pb(view: FeatureViewVersion) -> pb.FeatureView:
    message = pb.FeatureView(
        name=view.name,
        version=view.version,
        definition_hash=view.definition_hash,
        definition_json=view.definition.to_json(),
        frequency=frequency_to_pb(view.frequency),
        features=list(view.feature_names),
        symbols=list(view.symbols),
        watermark=to_timestamp(view.watermark),
        row_count=view.row_count,
        symbol_count=view.symbol_count,
        create_time=to_timestamp(view.created_at),
    )
    if view.first_time is not None:
        message.first_time.CopyFrom(to_timestamp(view.first_time))
    if view.last_time is not None:
        message.last_time.CopyFrom(to_timestamp(view.last_time))
    return message


def view_from_pb(message: pb.FeatureView) -> FeatureViewVersion:
    return FeatureViewVersion(
        name=message.name,
        version=message.version,
        definition=FeatureViewDefinition.from_json(message.definition_json),
        definition_hash=message.definition_hash,
        frequency=frequency_from_pb(message.frequency) or Frequency.DAILY,
        feature_names=tuple(message.features),
        symbols=tuple(message.symbols),
        watermark=from_timestamp(message.watermark),
        first_time=from_timestamp(message.first_time) if message.HasField("first_time") else None,
        last_time=from_timestamp(message.last_time) if message.HasField("last_time") else None,
        row_count=message.row_count,
        symbol_count=message.symbol_count,
        created_at=from_timestamp(message.create_time),
        value_table="",
    )
