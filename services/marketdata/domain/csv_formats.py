"""CSV import of bar files, with the file's format detected from its first line.

Supported formats (header names match case-insensitively, ignoring surrounding whitespace):

- Yahoo: `Date,Open,High,Low,Close,Adj Close,Volume`, ISO dates; `Adj Close` fills adj_close.
- Nasdaq.com: `date,close,volume,open,high,low` (or `Close/Last`), `M/D/YYYY` dates, newest
  first; prices may carry a leading `$` and spaces.
- NinjaTrader: no header, `;`-separated `YYYYMMDD HHMMSS;open;high;low;close;volume` (minute
  bars) or `YYYYMMDD;open;...` (daily bars). Times carry no zone and are read as UTC.
- Alpha Vantage: `timestamp,open,high,low,close,volume` (or the daily-adjusted layout with
  `adjusted_close`), dates or `YYYY-MM-DD HH:MM:SS` times. Times carry no zone and are read as UTC
  (Alpha Vantage documents its intraday times as US/Eastern; shift them if that matters).
- Long: any header with a `symbol`/`ticker` column, a time column (`datetime`, `timestamp`,
  `date`, `time`, or `date` plus `time`), open, high, low, close, volume and optionally
  `adj_close`/`adj close`. ISO 8601 times; zoned ones are converted to UTC, naive ones read as UTC.

Daily bars are stamped at midnight UTC of the session date. The symbol comes from a symbol column
when the file has one, else from the `symbol` argument, else from the file name
(`symbol_from_path`). Every unreadable value raises InvalidArgument naming the file, the 1-based
line and the column; nothing is dropped silently. OHLC rules are left to `validate_bars`.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import BAR_SCHEMA, TIME_TYPE, Frequency, sort_bars
from services.runtime.errors import FieldViolation, InvalidArgument


class CsvFormat(StrEnum):
    """A CSV layout `parse_csv` understands; the value is the short name used in CLIs."""

    YAHOO = "yahoo"
    NASDAQ = "nasdaq"
    NINJATRADER = "ninjatrader"
    ALPHA_VANTAGE = "alphavantage"
    LONG = "long"


@dataclass(frozen=True)
class ParsedCsv:
    """One parsed file: its bars in BAR_SCHEMA, sorted by symbol then time."""

    path: Path
    format: CsvFormat
    frequency: Frequency
    table: pa.Table


CSV_SUFFIXES = frozenset({".csv", ".txt"})

_YAHOO_HEADER = ("date", "open", "high", "low", "close", "adj close", "volume")
_NASDAQ_HEADERS = frozenset(
    {
        ("date", "close", "volume", "open", "high", "low"),
        ("date", "close/last", "volume", "open", "high", "low"),
    }
)
_ALPHA_VANTAGE_HEADERS = frozenset(
    {
        ("timestamp", "open", "high", "low", "close", "volume"),
        (
            "timestamp",
            "open",
            "high",
            "low",
            "close",
            "adjusted_close",
            "volume",
            "dividend_amount",
            "split_coefficient",
        ),
    }
)
_SYMBOL_KEYS = ("symbol", "ticker")
_TIME_KEYS = ("datetime", "timestamp", "date", "time")
_ADJ_KEYS = ("adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close")
_OHLCV = ("open", "high", "low", "close", "volume")
_NINJATRADER_LINE = re.compile(r"^\s*\d{8}( \d{6})?\s*;")
_NINJATRADER_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_EXPECTED = (
    "expected a Yahoo header (Date,Open,High,Low,Close,Adj Close,Volume), a Nasdaq header "
    "(date,close,volume,open,high,low), an Alpha Vantage header "
    "(timestamp,open,high,low,close,volume), a header with a symbol or ticker column, "
    "or NinjaTrader lines (YYYYMMDD HHMMSS;open;high;low;close;volume)"
)
_SNIFF_LINES = 1000
_MICROS_PER_DAY = 86_400_000_000
_MICROS_PER_MINUTE = 60_000_000

# File-name tokens that describe the data rather than name the instrument.
_NAME_NOISE = frozenset(
    {
        "nt",
        "ninjatrader",
        "yahoo",
        "nasdaq",
        "alphavantage",
        "minute",
        "minutes",
        "min",
        "intraday",
        "daily",
        "day",
        "bars",
        "bar",
        "data",
        "ohlc",
        "ohlcv",
        "prices",
        "history",
        "historical",
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "oct",
        "nov",
        "dec",
    }
)
_PERIOD_TOKEN = re.compile(r"^\d+[a-z]{0,7}$")  # 2011, 03, 20110103, 1m, 5min, 1d
_NAME_SEPARATORS = re.compile(r"[-_.\s]+")


@dataclass(frozen=True)
class _Sniff:
    format: CsvFormat
    first_line: int  # 0-based index of the first non-blank line (the header, if any)
    delimiter: str
    header: tuple[str, ...]  # as written in the file; empty for NinjaTrader


def detect_format(path: Path) -> CsvFormat:
    """The CSV format of `path`, from its first non-blank line.

    Raises InvalidArgument (field "path") naming the file and the line seen when the format is
    unknown, or when the file is missing or empty.
    """
    return _sniff(path).format


def parse_csv(path: Path, symbol: str | None = None) -> ParsedCsv:
    """Parse one bar file in any supported format into BAR_SCHEMA, sorted by symbol then time.

    `symbol` names the instrument of single-symbol formats (overriding the file name); it is
    ignored for long files, whose symbol column wins.
    """
    sniff = _sniff(path)
    if sniff.format is CsvFormat.NINJATRADER:
        rows = _read_rows(path, sniff, has_header=False)
        if rows.frame.shape[1] != len(_NINJATRADER_COLUMNS):
            raise _error(
                path,
                f"expected {len(_NINJATRADER_COLUMNS)} ';'-separated fields, "
                f"found {rows.frame.shape[1]}",
                line=sniff.first_line + 1,
            )
        rows.frame.columns = pd.Index(_NINJATRADER_COLUMNS)
        labels = {name: f"field {i + 1} ({name})" for i, name in enumerate(_NINJATRADER_COLUMNS)}
        return _parse_ninjatrader(path, rows, labels, _single_symbol(path, symbol))

    rows = _read_rows(path, sniff, has_header=True)
    keys = [_key(name) for name in sniff.header]
    if rows.frame.shape[1] != len(keys):
        raise _error(
            path,
            f"the header has {len(keys)} fields but pandas read {rows.frame.shape[1]} columns",
            line=sniff.first_line + 1,
        )
    rows.frame.columns = pd.Index(range(len(keys)))
    columns: dict[str, int] = {}
    for position, key in enumerate(keys):
        columns.setdefault(key, position)
    labels = {key: sniff.header[position] for key, position in columns.items()}
    frame = rows.frame.rename(columns={position: key for key, position in columns.items()})
    rows = _Rows(frame, rows.lines)
    if sniff.format is CsvFormat.YAHOO:
        return _parse_vendor_daily(
            path, sniff.format, rows, labels, _single_symbol(path, symbol), "%Y-%m-%d", "adj close"
        )
    if sniff.format is CsvFormat.NASDAQ:
        if "close/last" in columns:
            rows.frame["close"] = rows.frame["close/last"]
            labels["close"] = labels["close/last"]
        return _parse_vendor_daily(
            path, sniff.format, rows, labels, _single_symbol(path, symbol), "%m/%d/%Y", None
        )
    if sniff.format is CsvFormat.ALPHA_VANTAGE:
        return _parse_alpha_vantage(path, rows, labels, _single_symbol(path, symbol))
    return _parse_long(path, rows, labels, header_line=sniff.first_line + 1)


def find_csv_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given plus every *.csv / *.txt under given folders (recursively), sorted.

    Hidden files and folders (names starting with ".") are skipped inside folders. A path that
    does not exist raises InvalidArgument.
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            for folder, subfolders, files in os.walk(path):
                subfolders[:] = [name for name in subfolders if not name.startswith(".")]
                found.update(
                    Path(folder) / name
                    for name in files
                    if not name.startswith(".") and Path(name).suffix.lower() in CSV_SUFFIXES
                )
        else:
            raise InvalidArgument.for_field(
                "paths", f"{path}: no such file or folder", path=str(path)
            )
    return sorted(found)


def symbol_from_path(path: Path) -> str:
    """The instrument named by a file name, upper-cased.

    Rule: take the stem (name without its last suffix) and split it on `-`, `_`, `.` and spaces.
    A one-part stem is the symbol ("aapl.csv" -> "AAPL"). Otherwise parts that describe the data
    rather than the instrument are dropped: all-digit parts and digits with a short unit (years,
    months, dates, "1m", "5min") and the words nt, ninjatrader, yahoo, nasdaq, alphavantage,
    minute(s), min, intraday, daily, day, bar(s), data, ohlc(v), prices, history, historical and
    month abbreviations. The remaining parts, joined by "-", are the symbol
    ("nt-spy-minute-2011-03.csv" -> "SPY", "SPY_2011_01.txt" -> "SPY"). When nothing or everything
    would be dropped, the whole stem is the symbol ("BRK-B.csv" -> "BRK-B", "BRK.B.csv" -> "BRK.B").
    """
    stem = path.stem.strip()
    parts = [part for part in _NAME_SEPARATORS.split(stem) if part]
    if not parts:
        raise InvalidArgument.for_field(
            "symbol", f"{path}: cannot derive a symbol from the file name; pass one", path=str(path)
        )
    kept = [
        part
        for part in parts
        if part.lower() not in _NAME_NOISE and not _PERIOD_TOKEN.match(part.lower())
    ]
    if len(parts) == 1 or not kept or len(kept) == len(parts):
        return stem.upper()
    return "-".join(kept).upper()


# --- sniffing and reading ----------------------------------------------------------------------


def _error(
    path: Path,
    description: str,
    *,
    line: int | None = None,
    column: str | None = None,
    reason: str = "INVALID_CSV",
) -> InvalidArgument:
    where = str(path)
    metadata = {"path": str(path)}
    if line is not None:
        where += f", line {line}"
        metadata["line"] = str(line)
    if column is not None:
        where += f", column {column!r}"
        metadata["column"] = column
    message = f"{where}: {description}"
    return InvalidArgument(
        message, reason=reason, metadata=metadata, violations=[FieldViolation("path", message)]
    )


def _key(name: str) -> str:
    return " ".join(name.strip().strip('"').lower().split())


def _sniff(path: Path) -> _Sniff:
    try:
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
            for index, line in enumerate(handle):
                if line.strip():
                    return _classify(path, index, line.rstrip("\r\n"))
                if index >= _SNIFF_LINES:
                    break
    except FileNotFoundError:
        raise _error(path, "no such file", reason="FILE_NOT_FOUND") from None
    except IsADirectoryError:
        raise _error(path, "is a folder, not a file", reason="NOT_A_FILE") from None
    except OSError as exc:
        raise _error(path, f"cannot read the file: {exc.strerror}", reason="UNREADABLE") from None
    raise _error(path, "the file is empty", reason="UNKNOWN_CSV_FORMAT")


def _classify(path: Path, index: int, line: str) -> _Sniff:
    if _NINJATRADER_LINE.match(line):
        return _Sniff(CsvFormat.NINJATRADER, index, ";", ())
    delimiter = max((",", ";", "\t"), key=line.count)
    header = tuple(next(csv.reader([line], delimiter=delimiter)))
    keys = tuple(_key(name) for name in header)
    if keys == _YAHOO_HEADER:
        found = CsvFormat.YAHOO
    elif keys in _NASDAQ_HEADERS:
        found = CsvFormat.NASDAQ
    elif keys in _ALPHA_VANTAGE_HEADERS:
        found = CsvFormat.ALPHA_VANTAGE
    elif any(key in _SYMBOL_KEYS for key in keys):
        found = CsvFormat.LONG
    else:
        shown = line if len(line) <= 200 else line[:200] + "..."
        raise _error(
            path,
            f"unrecognised CSV format: line {index + 1} is {shown!r}; {_EXPECTED}",
            line=index + 1,
            reason="UNKNOWN_CSV_FORMAT",
        )
    return _Sniff(found, index, delimiter, header)


@dataclass(frozen=True)
class _Rows:
    frame: pd.DataFrame  # data rows only, every value a string ("" when empty or absent)
    lines: np.ndarray  # 1-based line number in the file of each row


def _read_rows(path: Path, sniff: _Sniff, *, has_header: bool) -> _Rows:
    """Every value as a string; the first line (header or not) fixes the number of fields."""
    try:
        frame = pd.read_csv(
            path,
            sep=sniff.delimiter,
            header=None,
            skiprows=sniff.first_line,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            encoding_errors="replace",
        )
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        match = re.search(r"line (\d+)", detail)
        line = int(match.group(1)) if match else None
        fields = re.search(r"Expected (\d+) fields in line \d+, saw (\d+)", detail)
        description = (
            f"expected {fields.group(1)} fields, found {fields.group(2)}" if fields else detail
        )
        raise _error(path, description, line=line) from None
    lines = np.arange(len(frame), dtype=np.int64) + sniff.first_line + 1
    if has_header:
        frame, lines = frame.iloc[1:].reset_index(drop=True), lines[1:]
    blank = (frame == "").all(axis=1).to_numpy()
    if blank.any():
        frame, lines = frame.loc[~blank].reset_index(drop=True), lines[~blank]
    if frame.empty:
        raise _error(path, "the file has no data rows", reason="NO_DATA")
    return _Rows(frame, lines)


# --- value conversion --------------------------------------------------------------------------


def _text(rows: _Rows, key: str) -> pd.Series:
    return rows.frame[key].astype(str).str.strip()


def _first_bad(
    path: Path, rows: _Rows, bad: np.ndarray, raw: pd.Series, label: str, what: str
) -> InvalidArgument:
    index = int(np.flatnonzero(bad)[0])
    value = str(raw.iloc[index])
    line = int(rows.lines[index])
    if value == "":
        return _error(path, "the value is missing", line=line, column=label)
    return _error(path, f"cannot read {value!r} as {what}", line=line, column=label)


def _numbers(
    path: Path,
    rows: _Rows,
    key: str,
    label: str,
    *,
    dollar: bool = False,
    optional: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Float values of a column and its mask of empty cells (allowed only when optional)."""
    raw = rows.frame[key]
    try:  # Arrow's strict cast is the fast path; pandas finds the bad cells when it fails.
        values = pa.array(raw, type=pa.string()).cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(values)
    if dollar and bad.any():
        # Only the cells the fast path could not read pay for the slower clean-up.
        retry = np.flatnonzero(bad)
        values = values.copy()  # the fast paths may hand back read-only buffers
        cleaned = raw.iloc[retry].astype(str).str.strip().str.replace(r"^\$\s*", "", regex=True)
        values[retry] = pd.to_numeric(cleaned, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = np.isnan(values)
    empty = np.zeros(len(values), dtype=bool)
    if bad.any():
        empty = (raw.astype(str).str.strip() == "").to_numpy()
        if optional:
            bad &= ~empty
    if bad.any():
        raise _first_bad(path, rows, bad, raw, label, "a number")
    return values, empty


_STRPTIME_FIELDS = {
    "%Y": ("year", r"(?P<year>\d{4})", pc.year),
    "%m": ("month", r"(?P<month>\d{1,2})", pc.month),
    "%d": ("day", r"(?P<day>\d{1,2})", pc.day),
    "%H": ("hour", r"(?P<hour>\d{1,2})", pc.hour),
    "%M": ("minute", r"(?P<minute>\d{1,2})", pc.minute),
    "%S": ("second", r"(?P<second>\d{1,2})", pc.second),
}


def _arrow_strptime(text: pa.Array, fmt: str) -> np.ndarray | None:
    """Epoch microseconds via Arrow's strptime (~30x faster than pandas), or None to fall back.

    Arrow's strptime rolls impossible dates over (11/31 becomes 12/1), so every field is also
    read from the text with a regex built from `fmt` and must equal the parsed value.
    """
    parts = [p for p in re.split(r"(%[A-Za-z])", fmt) if p]
    if any(p.startswith("%") and p not in _STRPTIME_FIELDS for p in parts):
        return None
    pattern = "".join(_STRPTIME_FIELDS[p][1] if p.startswith("%") else re.escape(p) for p in parts)
    parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    if parsed.null_count:
        return None
    fields = pc.extract_regex(text, pattern=f"^{pattern}$")
    if fields.null_count:
        return None
    for p in parts:
        if p.startswith("%"):
            name, _, component = _STRPTIME_FIELDS[p]
            written = pc.cast(pc.struct_field(fields, name), pa.int64())
            if not pc.all(pc.equal(written, component(parsed))).as_py():
                return None
    micros: np.ndarray = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
    return micros


def _micros(
    path: Path,
    rows: _Rows,
    text: pd.Series,
    label: str,
    fmt: str,
    what: str,
    *,
    iso: tuple[str, str] | None = None,
) -> np.ndarray:
    """UTC epoch microseconds of a text column; zoned ISO 8601 values are converted to UTC.

    `iso` is an optional (regex, replacement) rewriting `fmt` values to ISO 8601, for Arrow's
    fast strict parser; pandas parses with `fmt` when that fails and names the bad cell.
    """
    if iso is not None:
        try:
            rewritten = pc.replace_substring_regex(
                pa.array(text, type=pa.string()), pattern=iso[0], replacement=iso[1]
            )
            parsed_fast = rewritten.cast(pa.timestamp("us")).cast(pa.int64())
            micros: np.ndarray = parsed_fast.to_numpy(zero_copy_only=False)
            return micros
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    if fmt != "ISO8601":
        fast = _arrow_strptime(pa.array(text, type=pa.string()), fmt)
        if fast is not None:
            return fast
    if fmt == "ISO8601":
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True).dt.tz_localize(None)
    else:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise _first_bad(path, rows, bad, text, label, what)
    return parsed.to_numpy(dtype="datetime64[us]").view(np.int64)


def _table(
    symbols: pa.Array,
    micros: np.ndarray,
    prices: dict[str, np.ndarray],
    adj: tuple[np.ndarray, np.ndarray] | None,
) -> pa.Table:
    n = len(micros)
    adj_array = (
        pa.nulls(n, pa.float64())
        if adj is None
        else pa.array(adj[0], type=pa.float64(), mask=adj[1])
    )
    arrays = [
        symbols,
        pa.array(micros, type=TIME_TYPE),
        *(pa.array(prices[name], type=pa.float64()) for name in _OHLCV),
        adj_array,
    ]
    return sort_bars(pa.Table.from_arrays(arrays, schema=BAR_SCHEMA))


def _single_symbol(path: Path, symbol: str | None) -> str:
    if symbol is None:
        return symbol_from_path(path)
    cleaned = symbol.strip().upper()
    if not cleaned:
        raise InvalidArgument.for_field("symbol", "symbol is empty")
    return cleaned


def _repeat(symbol: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(symbol, pa.string()), n)


def _frequency(path: Path, symbols: np.ndarray, micros: np.ndarray) -> Frequency:
    """DAILY when every time is midnight, else MINUTE if the closest bars are one minute apart."""
    if not (micros % _MICROS_PER_DAY).any():
        return Frequency.DAILY
    order = np.lexsort((micros, symbols))
    same = symbols[order][1:] == symbols[order][:-1]
    gaps = np.diff(micros[order])[same]
    gaps = gaps[gaps > 0]
    if gaps.size and gaps.min() != _MICROS_PER_MINUTE:
        seconds = int(gaps.min()) / 1_000_000
        raise _error(
            path,
            f"intraday bars are {seconds:g} seconds apart at the closest; only daily and "
            "1-minute bars are supported",
            column="time",
            reason="UNSUPPORTED_FREQUENCY",
        )
    return Frequency.MINUTE


# --- formats -----------------------------------------------------------------------------------


def _parse_vendor_daily(
    path: Path,
    format: CsvFormat,
    rows: _Rows,
    labels: dict[str, str],
    symbol: str,
    date_format: str,
    adj_key: str | None,
) -> ParsedCsv:
    dollar = format is CsvFormat.NASDAQ
    micros = _micros(path, rows, _text(rows, "date"), labels["date"], date_format, "a date")
    prices = {name: _numbers(path, rows, name, labels[name], dollar=dollar)[0] for name in _OHLCV}
    adj = _numbers(path, rows, adj_key, labels[adj_key]) if adj_key else None
    table = _table(_repeat(symbol, len(micros)), micros, prices, adj)
    return ParsedCsv(path, format, Frequency.DAILY, table)


def _parse_ninjatrader(path: Path, rows: _Rows, labels: dict[str, str], symbol: str) -> ParsedCsv:
    text = _text(rows, "time")
    daily = len(text.iloc[0]) == 8
    if daily:
        fmt, what = "%Y%m%d", "a YYYYMMDD date"
        iso = (r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    else:
        fmt, what = "%Y%m%d %H%M%S", "a YYYYMMDD HHMMSS time"
        iso = (r"^(\d{4})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})$", r"\1-\2-\3 \4:\5:\6")
    micros = _micros(path, rows, text, labels["time"], fmt, what, iso=iso)
    prices = {name: _numbers(path, rows, name, labels[name])[0] for name in _OHLCV}
    table = _table(_repeat(symbol, len(micros)), micros, prices, None)
    frequency = Frequency.DAILY if daily else Frequency.MINUTE
    return ParsedCsv(path, CsvFormat.NINJATRADER, frequency, table)


def _parse_alpha_vantage(path: Path, rows: _Rows, labels: dict[str, str], symbol: str) -> ParsedCsv:
    micros = _micros(
        path, rows, _text(rows, "timestamp"), labels["timestamp"], "ISO8601", "a date or time"
    )
    prices = {name: _numbers(path, rows, name, labels[name])[0] for name in _OHLCV}
    adj = (
        _numbers(path, rows, "adjusted_close", labels["adjusted_close"])
        if "adjusted_close" in labels
        else None
    )
    symbols = np.full(len(micros), symbol, dtype=object)
    frequency = _frequency(path, symbols, micros)
    table = _table(_repeat(symbol, len(micros)), micros, prices, adj)
    return ParsedCsv(path, CsvFormat.ALPHA_VANTAGE, frequency, table)


def _parse_long(path: Path, rows: _Rows, labels: dict[str, str], *, header_line: int) -> ParsedCsv:
    def column(options: Sequence[str], name: str) -> str:
        for key in options:
            if key in labels:
                return key
        raise _error(
            path,
            f"the header has no {name} column (columns: {', '.join(labels.values())})",
            line=header_line,
            column=name,
        )

    symbol_key = column(_SYMBOL_KEYS, "symbol")
    for name in _OHLCV:
        column((name,), name)
    if "date" in labels and "time" in labels and not {"datetime", "timestamp"} & labels.keys():
        time_text = _text(rows, "date") + " " + _text(rows, "time")
        time_label = f"{labels['date']}+{labels['time']}"
    else:
        time_key = column(_TIME_KEYS, "date/time")
        time_text, time_label = _text(rows, time_key), labels[time_key]
    micros = _micros(path, rows, time_text, time_label, "ISO8601", "a date or time")
    symbol_text = _text(rows, symbol_key).str.upper()
    empty = (symbol_text == "").to_numpy()
    if empty.any():
        raise _first_bad(path, rows, empty, symbol_text, labels[symbol_key], "a symbol")
    prices = {name: _numbers(path, rows, name, labels[name])[0] for name in _OHLCV}
    adj_key = next((key for key in _ADJ_KEYS if key in labels), None)
    adj = _numbers(path, rows, adj_key, labels[adj_key], optional=True) if adj_key else None
    symbols = symbol_text.to_numpy(dtype=object)
    frequency = _frequency(path, symbols, micros)
    table = _table(pa.array(symbols, type=pa.string()), micros, prices, adj)
    return ParsedCsv(path, CsvFormat.LONG, frequency, table)
