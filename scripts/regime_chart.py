"""Draw the README's regime chart: DJI's close with its causal regimes shaded.

The model is fitted on 2009-2016 only (as in tests/unit/regime/test_model.py); 2017-2018 are
out of sample. Usage: python scripts/regime_chart.py [DJI.csv] [out.png]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc

from services.cli.report_plots import regime_chart
from services.marketdata.domain.csv_formats import parse_csv
from services.regime.domain.model import DailySeries, classify_series, fit_regimes
from services.regime.domain.regimes import Regime

ROOT = Path(__file__).resolve().parent.parent
TRAIN_END = datetime(2016, 12, 31, tzinfo=UTC)


def main(source: Path, out: Path) -> None:
    table = parse_csv(source).table.sort_by("time")
    # Yahoo's DJI file has a bar whose high is below its open; ingest validation rejects it.
    consistent = pc.and_(
        pc.greater_equal(table["high"], pc.max_element_wise(table["open"], table["close"])),
        pc.less_equal(table["low"], pc.min_element_wise(table["open"], table["close"])),
    )
    table = table.filter(consistent)
    series = DailySeries("DJI", tuple(table["time"].to_pylist()), table["close"].to_numpy())
    model = fit_regimes([series], None, TRAIN_END)
    (classified,) = classify_series(model, [series])
    known = [
        (t, Regime(v).name) for t, v in zip(classified.times, classified.labels, strict=True) if v
    ]
    regime_chart(
        out,
        {
            "symbol": f"DJI (fitted to {TRAIN_END.date()}; later sessions out of sample)",
            "bar_times": list(series.times),
            "closes": list(series.closes),
            "times": [t for t, _ in known],
            "regimes": [r for _, r in known],
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        Path(args[0]) if args else ROOT.parent / "shared" / "data" / "index" / "DJI.csv",
        Path(args[1]) if len(args) > 1 else ROOT / "docs" / "images" / "dji_regimes.png",
    )
