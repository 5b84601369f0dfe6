"""Print the settings reference (markdown) that the README's 'Settings' section holds.

`tests/unit/test_docs.py` fails when the README's table differs from this output.
"""

from services.marketdata.app import MarketDataSettings
from services.runtime.settings import RuntimeSettings, reference_markdown

SETTINGS_CLASSES = (RuntimeSettings, MarketDataSettings)

if __name__ == "__main__":
    print(reference_markdown(*SETTINGS_CLASSES))
