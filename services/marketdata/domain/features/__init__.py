"""The feature store of marketdata: versioned feature views over bars, and labels (no gRPC).

- `definition`: FeatureSpec, FeatureViewDefinition (canonical JSON, stable hash)
- `catalog`: the kinds a spec may use and definition validation (`define_view`)
- `sql_kinds`, `talib_kinds`: the kinds' implementations (DuckDB windows, TA-Lib per symbol)
- `default_view`: DEFAULT_VIEW, the 45-feature technical view
- `pipeline`: bars -> feature table (TA-Lib stage, then one DuckDB query)
- `labels`: forward returns and directions, reserved names
- `registry`: the `feature_versions` table and FeatureViewVersion
- `scan`: streaming reads (FeatureScan)
- `store`: FeatureStore (materialize, list, get, delete, read, labels)
"""

from services.marketdata.domain.features.catalog import KindInfo, define_view, kinds
from services.marketdata.domain.features.default_view import DEFAULT_VIEW, DEFAULT_VIEW_NAME
from services.marketdata.domain.features.definition import FeatureSpec, FeatureViewDefinition
from services.marketdata.domain.features.labels import DEFAULT_HORIZONS, is_label_name
from services.marketdata.domain.features.pipeline import compute_features
from services.marketdata.domain.features.registry import FeatureViewVersion
from services.marketdata.domain.features.scan import FeatureScan
from services.marketdata.domain.features.store import BUILTIN_VIEWS, FeatureStore

__all__ = [
    "BUILTIN_VIEWS",
    "DEFAULT_HORIZONS",
    "DEFAULT_VIEW",
    "DEFAULT_VIEW_NAME",
    "FeatureScan",
    "FeatureSpec",
    "FeatureStore",
    "FeatureViewDefinition",
    "FeatureViewVersion",
    "KindInfo",
    "compute_features",
    "define_view",
    "is_label_name",
    "kinds",
]
