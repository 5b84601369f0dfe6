"""CSV import: format detection, parsing of every real file we hold, and the errors users see.

The real files live in the shared data folder beside the checkout (see its README.md); tests that
need them skip locally when it is absent and fail when CI=true.
"""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from services.marketdata.domain.bar_table import (
    BAR_SCHEMA,
    Frequency,
    normalize_bars,
    sort_bars,
    validate_bars,
)
from services.marketdata.domain.csv_formats import (
    CsvFormat,
    ParsedCsv,
    detect_format,
    find_csv_files,
    parse_csv,
    symbol_from_path,
)
from services.runtime.errors import InvalidArgument
from tests.conftest import require_shared_data

DOW30 = (  # noqa: SIM905 - one line per ticker would drown the module
    "AAPL AXP BA CAT CSCO CVX DIS DWDP GS HD IBM INTC JNJ JPM KO MCD MMM MSFT NKE PFE PG TRV "
    "UNH UTX V VZ WBA WMT XOM"
).split()
DAILY_ROWS = 2518
FIRST_SESSION = datetime(2008, 11, 24, tzinfo=UTC)
LAST_SESSION = datetime(2018, 11, 23, tzinfo=UTC)
# The shared README says 14,179 rows for January; the file really holds 14,180 (14,143 in
# January plus 37 early on 2011-02-01 UTC, i.e. the evening of Jan 31 in New York).
INTRADAY = {
    "nt-spy-minute-2011.csv": (
        14_180,
        datetime(2011, 1, 3, 9, 1, tzinfo=UTC),
        datetime(2011, 2, 1, 1, 0, tzinfo=UTC),
    ),
    "nt-spy-minute-2011-03.csv": (
        17_577,
        datetime(2011, 3, 1, 9, 1, tzinfo=UTC),
        datetime(2011, 3, 31, 23, 59, tzinfo=UTC),
    ),
}


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return require_shared_data()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def assert_clean_layout(parsed: ParsedCsv) -> None:
    """Exactly BAR_SCHEMA, sorted, and already what normalize_bars would make of it."""
    table = parsed.table
    assert table.schema == BAR_SCHEMA
    assert table.equals(sort_bars(table))
    assert normalize_bars(table).equals(table)


def times(table: pa.Table) -> list[datetime]:
    return list(table.column("time").to_pylist())


def row_at(table: pa.Table, when: datetime, symbol: str | None = None) -> dict[str, object]:
    mask = pc.equal(table.column("time"), pa.scalar(when, type=table.schema.field("time").type))
    if symbol is not None:
        mask = pc.and_(mask, pc.equal(table.column("symbol"), symbol))
    rows = table.filter(mask).to_pylist()
    assert len(rows) == 1, f"expected one row at {when}, found {len(rows)}"
    return dict(rows[0])


def raw_first_row(path: Path) -> dict[str, str]:
    """The first data row of a headed CSV, read with the csv module (lower-cased keys)."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        row = next(reader)
    return {key.strip().lower(): value for key, value in row.items()}


def expect_error(path: Path, *fragments: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        parse_csv(path)
    message = caught.value.message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return caught.value


# --- the real files ------------------------------------------------------------------------------


class TestRealDailyFiles:
    @pytest.mark.parametrize("ticker", DOW30)
    def test_every_dow_file_parses_completely_oldest_first(
        self, data_dir: Path, ticker: str
    ) -> None:
        path = data_dir / "daily" / "dow30" / f"{ticker}.csv"
        expected = CsvFormat.YAHOO if ticker == "DWDP" else CsvFormat.NASDAQ

        parsed = parse_csv(path)

        assert detect_format(path) is expected
        assert parsed.format is expected
        assert parsed.frequency is Frequency.DAILY
        assert parsed.path == path
        table = parsed.table
        assert table.num_rows == DAILY_ROWS
        assert set(table.column("symbol").to_pylist()) == {ticker}
        stamps = times(table)
        assert stamps[0] == FIRST_SESSION
        assert stamps[-1] == LAST_SESSION
        assert all(a < b for a, b in pairwise(stamps)), "oldest first"
        assert all(t.hour == t.minute == t.second == 0 for t in stamps), "midnight UTC"
        assert_clean_layout(parsed)
        validate_bars(table)  # the README promises these files are clean

    @pytest.mark.parametrize("ticker", DOW30)
    def test_first_raw_row_survives_parsing_exactly(self, data_dir: Path, ticker: str) -> None:
        path = data_dir / "daily" / "dow30" / f"{ticker}.csv"
        raw = raw_first_row(path)
        if ticker == "DWDP":  # Yahoo: ISO dates, oldest first, Adj Close
            when = datetime.strptime(raw["date"], "%Y-%m-%d").replace(tzinfo=UTC)
            adj: float | None = float(raw["adj close"])
        else:  # Nasdaq: M/D/YYYY, newest first, no adjusted close
            when = datetime.strptime(raw["date"], "%m/%d/%Y").replace(tzinfo=UTC)
            adj = None

        row = row_at(parse_csv(path).table, when)

        for column in ("open", "high", "low", "close", "volume"):
            assert row[column] == float(raw[column]), column
        assert row["adj_close"] == adj

    def test_spot_checked_values(self, data_dir: Path) -> None:
        """Values copied by hand from the raw files."""
        aapl = parse_csv(data_dir / "daily" / "dow30" / "AAPL.csv").table
        # AAPL.csv line 2: 11/23/2018,172.29,23623970,174.94,176.595,172.1 (date,close,volume,...)
        assert row_at(aapl, LAST_SESSION) == {
            "symbol": "AAPL",
            "time": LAST_SESSION,
            "open": 174.94,
            "high": 176.595,
            "low": 172.1,
            "close": 172.29,
            "volume": 23623970.0,
            "adj_close": None,
        }
        dwdp = parse_csv(data_dir / "daily" / "dow30" / "DWDP.csv").table
        # DWDP.csv line 2: 2008-11-24,18.070000,18.730000,17.480000,18.290001,13.190079,18855200
        assert row_at(dwdp, FIRST_SESSION) == {
            "symbol": "DWDP",
            "time": FIRST_SESSION,
            "open": 18.07,
            "high": 18.73,
            "low": 17.48,
            "close": 18.290001,
            "volume": 18855200.0,
            "adj_close": 13.190079,
        }

    def test_dji_index_parses_and_its_real_glitch_is_rejected_by_validation(
        self, data_dir: Path
    ) -> None:
        """DJI.csv holds a real Yahoo glitch: on 2015-08-31 High (16388.26) < Open (16632.02).

        The parser keeps the data as it is (OHLC rules are not its job); validate_bars must then
        reject the batch and name that session, which is the correct behaviour.
        """
        path = data_dir / "index" / "DJI.csv"
        parsed = parse_csv(path)

        assert parsed.format is CsvFormat.YAHOO
        assert parsed.frequency is Frequency.DAILY
        table = parsed.table
        assert table.num_rows == DAILY_ROWS
        assert set(table.column("symbol").to_pylist()) == {"DJI"}
        assert times(table)[0] == FIRST_SESSION
        assert times(table)[-1] == LAST_SESSION
        assert_clean_layout(parsed)
        glitch = datetime(2015, 8, 31, tzinfo=UTC)
        row = row_at(table, glitch)
        assert row["open"] == 16632.019531
        assert row["high"] == 16388.259766
        assert row["adj_close"] == 16528.029297

        with pytest.raises(InvalidArgument) as caught:
            validate_bars(table)
        assert "2015-08-31" in caught.value.message
        assert caught.value.metadata["symbol"] == "DJI"

        without_glitch = table.filter(pc.not_equal(table.column("time"), pa.scalar(glitch)))
        validate_bars(without_glitch)  # that is the only bad row

    def test_all_dow_files_parse_quickly(self, data_dir: Path) -> None:
        files = sorted((data_dir / "daily" / "dow30").glob("*.csv"))
        assert len(files) == len(DOW30)
        started = time.perf_counter()
        total = sum(parse_csv(path).table.num_rows for path in files)
        elapsed = time.perf_counter() - started
        assert total == len(DOW30) * DAILY_ROWS
        assert elapsed < 5.0, f"29 daily files took {elapsed:.2f}s"


class TestRealIntradayFiles:
    @pytest.mark.parametrize("name", sorted(INTRADAY))
    def test_ninjatrader_minute_files(self, data_dir: Path, name: str) -> None:
        path = data_dir / "intraday" / name
        rows, first, last = INTRADAY[name]

        parsed = parse_csv(path)

        assert detect_format(path) is CsvFormat.NINJATRADER
        assert parsed.format is CsvFormat.NINJATRADER
        assert parsed.frequency is Frequency.MINUTE
        table = parsed.table
        assert table.num_rows == rows
        assert set(table.column("symbol").to_pylist()) == {"SPY"}
        stamps = times(table)
        assert stamps[0] == first
        assert stamps[-1] == last
        assert all(a < b for a, b in pairwise(stamps))
        assert table.column("adj_close").null_count == rows
        assert_clean_layout(parsed)
        validate_bars(table)

    def test_spot_checked_minute_bar(self, data_dir: Path) -> None:
        # nt-spy-minute-2011-03.csv line 1: 20110301 090100;133.9;134.01;133.9;133.98;3778
        table = parse_csv(data_dir / "intraday" / "nt-spy-minute-2011-03.csv").table
        assert table.slice(0, 1).to_pylist() == [
            {
                "symbol": "SPY",
                "time": datetime(2011, 3, 1, 9, 1, tzinfo=UTC),
                "open": 133.9,
                "high": 134.01,
                "low": 133.9,
                "close": 133.98,
                "volume": 3778.0,
                "adj_close": None,
            }
        ]

    def test_crlf_file_reads_last_field_cleanly(self, data_dir: Path) -> None:
        # The January file has CRLF line ends; its last line is 20110201 010000;...;128.83;2415
        table = parse_csv(data_dir / "intraday" / "nt-spy-minute-2011.csv").table
        last = table.slice(table.num_rows - 1).to_pylist()[0]
        assert last["close"] == 128.83
        assert last["volume"] == 2415.0


def test_every_shared_file_is_found_and_detected(data_dir: Path) -> None:
    files = find_csv_files([data_dir])

    assert files == sorted(files)
    assert {path.name for path in files} == (
        {f"{ticker}.csv" for ticker in DOW30} | {"DJI.csv"} | set(INTRADAY)
    )  # README.md is not a data file
    formats = {path.name: detect_format(path) for path in files}
    assert formats["DWDP.csv"] is CsvFormat.YAHOO
    assert formats["DJI.csv"] is CsvFormat.YAHOO
    assert all(formats[name] is CsvFormat.NINJATRADER for name in INTRADAY)
    nasdaq = {name for name, found in formats.items() if found is CsvFormat.NASDAQ}
    assert nasdaq == {f"{ticker}.csv" for ticker in DOW30 if ticker != "DWDP"}


# --- formats from small files --------------------------------------------------------------------


class TestAlphaVantage:
    def test_daily_newest_first_becomes_oldest_first(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "msft.csv",
            "timestamp,open,high,low,close,volume\n"
            "2024-01-04,370.67,373.1,367.17,367.94,20901500\n"
            "2024-01-03,369.01,373.26,368.51,370.6,23083500\n"
            "2024-01-02,373.86,375.9,366.77,370.87,25258600\n",
        )

        parsed = parse_csv(path)

        assert detect_format(path) is CsvFormat.ALPHA_VANTAGE
        assert parsed.format is CsvFormat.ALPHA_VANTAGE
        assert parsed.frequency is Frequency.DAILY
        assert times(parsed.table) == [datetime(2024, 1, d, tzinfo=UTC) for d in (2, 3, 4)]
        assert parsed.table.column("symbol").to_pylist() == ["MSFT"] * 3
        assert parsed.table.column("close").to_pylist() == [370.87, 370.6, 367.94]
        assert parsed.table.column("adj_close").null_count == 3
        assert_clean_layout(parsed)
        validate_bars(parsed.table)

    def test_daily_adjusted_layout_fills_adj_close(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "ibm.csv",
            "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,"
            "split_coefficient\n"
            "2024-01-03,161.0,161.73,160.08,160.1,155.2,4086000,0.0000,1.0\n"
            "2024-01-02,162.83,163.29,160.87,161.5,156.56,3825000,0.0000,1.0\n",
        )

        parsed = parse_csv(path)

        assert parsed.format is CsvFormat.ALPHA_VANTAGE
        assert parsed.table.column("adj_close").to_pylist() == [156.56, 155.2]

    def test_intraday_one_minute_bars(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "spy_1min.csv",
            "timestamp,open,high,low,close,volume\n"
            "2024-01-02 09:33:00,472.1,472.3,472.0,472.2,1200\n"
            "2024-01-02 09:32:00,472.0,472.2,471.9,472.1,1500\n"
            "2024-01-02 09:30:00,471.8,472.1,471.7,472.0,9000\n",
        )

        parsed = parse_csv(path)

        assert parsed.frequency is Frequency.MINUTE
        assert parsed.table.column("symbol").to_pylist() == ["SPY"] * 3  # "1min" dropped
        assert times(parsed.table) == [
            datetime(2024, 1, 2, 9, minute, tzinfo=UTC) for minute in (30, 32, 33)
        ]
        assert_clean_layout(parsed)

    def test_intraday_bars_coarser_than_a_minute_are_refused_not_mislabelled(
        self, tmp_path: Path
    ) -> None:
        path = write(
            tmp_path,
            "spy.csv",
            "timestamp,open,high,low,close,volume\n"
            "2024-01-02 09:40:00,472.1,472.3,472.0,472.2,1200\n"
            "2024-01-02 09:35:00,472.0,472.2,471.9,472.1,1500\n",
        )

        error = expect_error(path, "300 seconds", "1-minute")
        assert error.reason == "UNSUPPORTED_FREQUENCY"


class TestLongFormat:
    def test_multi_symbol_daily_file(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "universe.csv",
            " Ticker , DATE ,Open,High,Low,Close,Adj Close,Volume\n"
            "msft,2024-01-03,369.01,373.26,368.51,370.6,368.9,23083500\n"
            "aapl,2024-01-03,184.22,185.88,183.43,184.25,183.5,58414500\n"
            "msft,2024-01-02,373.86,375.9,366.77,370.87,369.1,25258600\n"
            "aapl,2024-01-02,187.15,188.44,183.89,185.64,184.9,82488700\n",
        )

        parsed = parse_csv(path, symbol="IGNORED")  # a symbol column beats the argument

        assert detect_format(path) is CsvFormat.LONG
        assert parsed.format is CsvFormat.LONG
        assert parsed.frequency is Frequency.DAILY
        table = parsed.table
        assert table.column("symbol").to_pylist() == ["AAPL", "AAPL", "MSFT", "MSFT"]
        assert times(table) == [datetime(2024, 1, d, tzinfo=UTC) for d in (2, 3, 2, 3)]
        assert table.column("adj_close").to_pylist() == [184.9, 183.5, 369.1, 368.9]
        assert_clean_layout(parsed)
        validate_bars(table)

    def test_intraday_zoned_times_are_converted_to_utc(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "bars.csv",
            "symbol,datetime,open,high,low,close,volume\n"
            "ES,2024-01-02T09:30:00-05:00,10,11,9,10.5,100\n"
            "ES,2024-01-02T14:31:00Z,10.5,11,10,10.8,80\n"
            "NQ,2024-01-02 14:30:00,20,21,19,20.5,50\n",
        )

        parsed = parse_csv(path)

        assert parsed.frequency is Frequency.MINUTE
        assert times(parsed.table) == [
            datetime(2024, 1, 2, 14, 30, tzinfo=UTC),
            datetime(2024, 1, 2, 14, 31, tzinfo=UTC),
            datetime(2024, 1, 2, 14, 30, tzinfo=UTC),
        ]
        assert_clean_layout(parsed)

    def test_separate_date_and_time_columns_combine(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "bars.csv",
            "symbol,date,time,open,high,low,close,volume\n"
            "CL,2024-01-02,15:01:00,70.1,70.2,70.0,70.15,10\n"
            "CL,2024-01-02,15:00:00,70.0,70.2,69.9,70.1,12\n",
        )

        parsed = parse_csv(path)

        assert parsed.frequency is Frequency.MINUTE
        assert times(parsed.table) == [
            datetime(2024, 1, 2, 15, 0, tzinfo=UTC),
            datetime(2024, 1, 2, 15, 1, tzinfo=UTC),
        ]

    def test_empty_adj_close_cells_become_nulls(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "bars.csv",
            "symbol,date,open,high,low,close,volume,adj_close\n"
            "X,2024-01-02,10,11,9,10.5,100,\n"
            "X,2024-01-03,10.5,11,10,10.8,80,10.7\n",
        )

        assert parse_csv(path).table.column("adj_close").to_pylist() == [None, 10.7]

    def test_missing_column_names_the_header_line_and_column(self, tmp_path: Path) -> None:
        path = write(
            tmp_path, "bars.csv", "symbol,date,open,high,low,close\nX,2024-01-02,1,2,1,2\n"
        )

        error = expect_error(path, "line 1", "'volume'")
        assert error.metadata["column"] == "volume"

    def test_empty_symbol_cell_is_an_error(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "bars.csv",
            "symbol,date,open,high,low,close,volume\n"
            "X,2024-01-02,1,2,1,2,5\n"
            ",2024-01-03,1,2,1,2,5\n",
        )

        expect_error(path, "line 3", "'symbol'", "missing")


class TestVendorVariants:
    def test_nasdaq_dollar_prices_and_close_last_header(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "HD.csv",
            "Date,Close/Last,Volume,Open,High,Low\n"
            "01/03/2024,$ 345.70,3270000,$346.00,$348.71, $343.58\n"
            "1/2/2024,$346.67,3571000,$345.52,$347.94,$343.91\n",
        )

        parsed = parse_csv(path)

        assert parsed.format is CsvFormat.NASDAQ
        table = parsed.table
        assert times(table) == [datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)]
        assert table.column("close").to_pylist() == [346.67, 345.70]
        assert table.column("low").to_pylist() == [343.91, 343.58]
        assert_clean_layout(parsed)

    def test_header_matching_ignores_case_whitespace_bom_and_crlf(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "spy.csv",
            "\ufeff DATE , open,HIGH ,Low,close , adj close,Volume\r\n"
            "2024-01-02,472.16,473.67,470.49,472.65,470.1,123623700\r\n",
        )

        parsed = parse_csv(path)

        assert parsed.format is CsvFormat.YAHOO
        assert parsed.table.to_pylist()[0]["volume"] == 123623700.0
        assert parsed.table.to_pylist()[0]["adj_close"] == 470.1

    def test_ninjatrader_daily_lines(self, tmp_path: Path) -> None:
        path = write(tmp_path, "ES.txt", "20240102;4750;4760;4740;4755;1000\n")

        parsed = parse_csv(path)

        assert parsed.format is CsvFormat.NINJATRADER
        assert parsed.frequency is Frequency.DAILY
        assert times(parsed.table) == [datetime(2024, 1, 2, tzinfo=UTC)]

    def test_symbol_argument_overrides_the_file_name(self, tmp_path: Path) -> None:
        path = write(tmp_path, "export.csv", "20240102 093100;1;2;1;2;5\n")

        parsed = parse_csv(path, symbol=" es ")

        assert parsed.table.column("symbol").to_pylist() == ["ES"]

    def test_blank_symbol_argument_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path, "export.csv", "20240102 093100;1;2;1;2;5\n")

        with pytest.raises(InvalidArgument):
            parse_csv(path, symbol="  ")


# --- bad files -----------------------------------------------------------------------------------


class TestBadFiles:
    def test_unknown_header_names_file_and_what_was_seen(self, tmp_path: Path) -> None:
        path = write(tmp_path, "odd.csv", "when,price,size\n2024-01-02,1,2\n")

        with pytest.raises(InvalidArgument) as caught:
            detect_format(path)

        error = caught.value
        assert str(path) in error.message
        assert "when,price,size" in error.message
        assert [v.field for v in error.violations] == ["path"]
        assert error.reason == "UNKNOWN_CSV_FORMAT"
        with pytest.raises(InvalidArgument):
            parse_csv(path)

    def test_empty_file(self, tmp_path: Path) -> None:
        path = write(tmp_path, "empty.csv", "\n\n")

        with pytest.raises(InvalidArgument, match="empty"):
            detect_format(path)

    def test_header_without_rows(self, tmp_path: Path) -> None:
        path = write(tmp_path, "aapl.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n")

        expect_error(path, "no data rows")

    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "absent.csv"

        with pytest.raises(InvalidArgument, match="no such file"):
            parse_csv(path)

    def test_unparseable_date_names_line_and_column(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "aapl.csv",
            "date,close,volume,open,high,low\n"
            "11/23/2018,172.29,23623970,174.94,176.595,172.1\n"
            "11/31/2018,176.78,31096240,179.73,180.27,176.55\n",
        )

        error = expect_error(path, "line 3", "'date'", "11/31/2018")
        assert error.metadata == {"path": str(path), "line": "3", "column": "date"}

    def test_non_numeric_price_names_line_and_column(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "aapl.csv",
            "date,close,volume,open,high,low\n"
            "11/23/2018,172.29,23623970,174.94,176.595,172.1\n"
            "11/21/2018,176.78,31096240,179.73,abc,176.55\n",
        )

        expect_error(path, "line 3", "'high'", "'abc'")

    def test_yahoo_null_rows_are_errors_not_silently_dropped(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "aapl.csv",
            "Date,Open,High,Low,Close,Adj Close,Volume\n"
            "2019-01-02,38.72,39.71,38.55,39.48,38.0,148158800\n"
            "2019-01-03,null,null,null,null,null,null\n",
        )

        expect_error(path, "line 3", "'Open'", "'null'")

    def test_ninjatrader_bad_value_line_counts_blank_lines(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "spy.txt",
            "20110103 090100;126.35;126.39;126.35;126.39;1579\n"
            "\n"
            "20110103 090200;126.45;126.45;126.45;x;300\n",
        )

        expect_error(path, "line 3", "field 5 (close)", "'x'")

    def test_ninjatrader_bad_time(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "spy.txt",
            "20110103 090100;126.35;126.39;126.35;126.39;1579\n"
            "20110103 096100;126.45;126.45;126.45;126.45;300\n",
        )

        expect_error(path, "line 2", "field 1 (time)", "096100")

    def test_missing_value_in_a_short_row(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "msft.csv",
            "timestamp,open,high,low,close,volume\n2024-01-04,370.67,373.1,367.17,367.94\n",
        )

        expect_error(path, "line 2", "'volume'", "missing")

    def test_row_with_too_many_fields(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "msft.csv",
            "timestamp,open,high,low,close,volume\n"
            "2024-01-04,370.67,373.1,367.17,367.94,1\n"
            "2024-01-03,370.67,373.1,367.17,367.94,1,99\n",
        )

        expect_error(path, "line 3", "expected 6 fields, found 7")

    def test_ohlc_rules_are_left_to_validation(self, tmp_path: Path) -> None:
        """The parser does not judge prices; validate_bars does (high below low here)."""
        path = write(tmp_path, "x.txt", "20240102 093100;10;9;11;10;5\n")

        table = parse_csv(path).table

        with pytest.raises(InvalidArgument, match="high"):
            validate_bars(table)


# --- file discovery and symbols ------------------------------------------------------------------


class TestFindCsvFiles:
    def test_folders_are_searched_recursively_files_kept_as_given(self, tmp_path: Path) -> None:
        (tmp_path / "data" / "nested").mkdir(parents=True)
        (tmp_path / "data" / ".hidden").mkdir()
        a = write(tmp_path / "data", "b.csv", "")
        b = write(tmp_path / "data" / "nested", "a.TXT", "")
        write(tmp_path / "data", "notes.md", "")
        write(tmp_path / "data", ".~lock.b.csv", "")
        write(tmp_path / "data" / ".hidden", "c.csv", "")
        given = write(tmp_path, "bars.dat", "")

        found = find_csv_files([tmp_path / "data", given, a])

        assert found == sorted([a, b, given])

    def test_missing_path_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidArgument, match="no such file or folder"):
            find_csv_files([tmp_path / "nope"])


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("aapl.csv", "AAPL"),
        ("DJI.csv", "DJI"),
        ("nt-spy-minute-2011-03.csv", "SPY"),
        ("nt-spy-minute-2011.csv", "SPY"),
        ("SPY-2011-01.txt", "SPY"),
        ("spy_1min.csv", "SPY"),
        ("msft_daily_20240102.csv", "MSFT"),
        ("BRK-B.csv", "BRK-B"),
        ("BRK.B.csv", "BRK.B"),
        ("brk-b-2020.csv", "BRK-B"),
        ("daily.csv", "DAILY"),
    ],
)
def test_symbol_from_path(name: str, symbol: str) -> None:
    assert symbol_from_path(Path("/some/folder") / name) == symbol
