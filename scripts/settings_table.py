"""Print the settings reference (markdown) that the README's 'Settings' section holds.

`tests/unit/test_docs.py` fails when the README's table differs from this output.
"""

from services.backtest.app import BacktestSettings
from services.forecast.app import ForecastSettings
from services.marketdata.app import MarketDataSettings
from services.quality.app import QualitySettings
from services.regime.app import RegimeSettings
from services.runtime.mongo import MongoSettings
from services.runtime.settings import RuntimeSettings, reference_markdown
from services.signal.app import SignalSettings

SETTINGS_CLASSES = (
    RuntimeSettings,
    MarketDataSettings,
    SignalSettings,
    QualitySettings,
    RegimeSettings,
    BacktestSettings,
    ForecastSettings,
    MongoSettings,
)

if __name__ == "__main__":
    print(reference_markdown(*SETTINGS_CLASSES))
