"""Default call behaviour of every service's methods, in one table the channel factory reads."""

from __future__ import annotations

from services.runtime.channels import MethodPolicy

MARKETDATA = MethodPolicy(
    "quantmesh.marketdata.v1.MarketDataService",
    idempotent=(
        "GetBars",
        "ListSymbols",
        "WatchIngests",
        "MaterializeFeatures",
        "ListFeatureViews",
        "GetFeatures",
        "GetLabels",
    ),
    unary=("ListSymbols", "MaterializeFeatures", "ListFeatureViews", "DeleteFeatureView"),
)
SIGNAL = MethodPolicy(
    "quantmesh.signal.v1.SignalService",
    idempotent=("Score", "ScoreBatch", "ExplainPrediction", "ListModels", "SubscribeSignals"),
    unary=("TrainModel", "Score", "ScoreBatch", "ExplainPrediction", "ListModels", "PromoteModel"),
)
QUALITY = MethodPolicy(
    "quantmesh.quality.v1.QualityService",
    idempotent=("ScoreSeries", "ListEvents", "GetQualitySummary", "AcknowledgeEvent"),
    unary=(
        "CheckBatch",
        "ScoreSeries",
        "ListEvents",
        "GetQualitySummary",
        "AcknowledgeEvent",
        "RefitModels",
    ),
)
REGIME = MethodPolicy(
    "quantmesh.regime.v1.RegimeService",
    idempotent=(
        "FitRegimeModel",
        "ListRegimeModels",
        "ClassifyRegime",
        "GetRegimeHistory",
        "WatchRegime",
        "GetCacheStats",
    ),
    unary=("FitRegimeModel", "ListRegimeModels", "ClassifyRegime", "GetCacheStats"),
)
FORECAST = MethodPolicy(
    "quantmesh.forecast.v1.ForecastService",
    idempotent=("ForecastKpis", "EvaluateCalibration"),
    unary=("ForecastKpis", "EvaluateCalibration"),
)
BACKTEST = MethodPolicy(
    "quantmesh.backtest.v1.BacktestService",
    idempotent=("GetBacktest", "ListBacktests", "GetKpis", "StreamEquity", "GetTrades"),
    unary=("RunBacktest", "GetBacktest", "ListBacktests", "GetKpis"),
)
OPERATIONS = MethodPolicy(
    "quantmesh.operations.v1.OperationsService",
    idempotent=("GetOperation", "ListOperations", "WatchOperation"),
    unary=("GetOperation", "ListOperations", "CancelOperation"),
)
HEALTH = MethodPolicy("grpc.health.v1.Health", idempotent=("Check",), unary=("Check",))

ALL = (MARKETDATA, SIGNAL, QUALITY, REGIME, FORECAST, BACKTEST, OPERATIONS, HEALTH)
