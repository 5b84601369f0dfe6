"""The data-quality sentinel's domain: checks, scores, events and webhooks (no gRPC).

Start at `Sentinel` (sentinel.py). Modules, one job each:

    findings          Severity, Check, Finding, RowAssessment; how a row's findings combine
    config            thresholds (RuleConfig per frequency) and model settings
    calendar          exchange sessions (exchange_calendars) as day numbers
    panel, features   a batch plus history as sorted arrays; raw and normalised bar features
    robust            trailing median and robust sigma per bar (causal)
    rules_integrity   schema, values, OHLC consistency, duplicates and revisions
    rules_continuity  missing sessions, stale prices, zero volume
    rules_outliers    return, wick, volume outliers and split-like jumps
    isolation         Isolation Forest models (per symbol or pooled)
    prophet_model     Prophet forecasts of log close and log volume, precomputed
    models, training  the model cache; fitting off the event loop, refits on schedule
    model_checks      findings from the cached models
    checker, report   one pass of every check; the batch report, verdict and decision
    series            scoring any timestamped numeric series
    history           the HistorySource protocol and an in-memory source
    warm_history      recent history kept warm from marketdata's ingest notices, fenced
    events, event_store   DataQualityEvent, filters, pages, summary; their DuckDB store
    webhooks, outbox, delivery   signed JSON webhooks through a durable outbox
    evaluation        injected anomalies on real data: precision and recall per kind
"""

from services.quality.domain.config import (
    FeatureSpace,
    IsolationConfig,
    IsolationMode,
    ModelConfig,
    ProphetConfig,
    RuleConfig,
)
from services.quality.domain.delivery import WebhookDispatcher
from services.quality.domain.event_store import EventStore
from services.quality.domain.events import (
    DataQualityEvent,
    EventFilter,
    EventPage,
    EventStatus,
    QualitySummary,
)
from services.quality.domain.findings import Check, Finding, RowAssessment, Severity
from services.quality.domain.history import HistorySource, InMemoryHistory
from services.quality.domain.model_checks import ModelUsage
from services.quality.domain.models import ModelCache, ModelInfo, ModelKind
from services.quality.domain.report import BatchReport, IngestDecision, Verdict, decide
from services.quality.domain.sentinel import Inspection, Sentinel, SentinelConfig
from services.quality.domain.series import MIN_SERIES_POINTS, SeriesScores
from services.quality.domain.training import FitReport, ModelTrainer
from services.quality.domain.webhooks import WebhookConfig, idempotency_key, sign, verify

__all__ = [
    "MIN_SERIES_POINTS",
    "BatchReport",
    "Check",
    "DataQualityEvent",
    "EventFilter",
    "EventPage",
    "EventStatus",
    "EventStore",
    "FeatureSpace",
    "Finding",
    "FitReport",
    "HistorySource",
    "InMemoryHistory",
    "IngestDecision",
    "Inspection",
    "IsolationConfig",
    "IsolationMode",
    "ModelCache",
    "ModelConfig",
    "ModelInfo",
    "ModelKind",
    "ModelTrainer",
    "ModelUsage",
    "ProphetConfig",
    "QualitySummary",
    "RowAssessment",
    "RuleConfig",
    "Sentinel",
    "SentinelConfig",
    "SeriesScores",
    "Severity",
    "Verdict",
    "WebhookConfig",
    "WebhookDispatcher",
    "decide",
    "idempotency_key",
    "sign",
    "verify",
]
