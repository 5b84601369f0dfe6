"""FeatureStore: materialize feature views from the bar store, keep them immutable, read them.

Versioning policy. A version is `<definition hash>-<data snapshot hash>` (see
`registry.version_id`): the snapshot is the frequency, the symbol universe and the watermark, the
latest `ingested_at` of the bars used. So:
- the same definition on unchanged bars is the same version: `materialize` returns it as stored;
- a changed definition, or bars ingested or revised since, is a new version beside the old ones;
- a version's values are written once (CREATE TABLE AS, in the transaction that registers it)
  and never updated; they disappear only through `delete_version`.
"Latest" is the most recently created version of a name; `as_of` picks the latest created at or
before that knowledge time.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import TIME_TYPE, Frequency
from services.marketdata.domain.features import registry
from services.marketdata.domain.features.catalog import validate_definition
from services.marketdata.domain.features.default_view import DEFAULT_VIEW
from services.marketdata.domain.features.definition import FeatureViewDefinition
from services.marketdata.domain.features.labels import (
    DEFAULT_HORIZONS,
    check_horizons,
    compute_labels,
    reject_labels,
)
from services.marketdata.domain.features.pipeline import compute_features, window_lookback
from services.marketdata.domain.features.registry import FeatureViewVersion
from services.marketdata.domain.features.scan import DEFAULT_BATCH_ROWS, FeatureScan, plan_scan
from services.marketdata.domain.store import BarStore
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from services.runtime.time_convert import ensure_utc

#: Views known by name without a definition in the request.
BUILTIN_VIEWS: Mapping[str, FeatureViewDefinition] = {DEFAULT_VIEW.name: DEFAULT_VIEW}
MAX_BATCH_ROWS = 1_000_000


class FeatureStore:
    """Feature views over the bars of `bars`, stored in the same DuckDB database.

    Materializations are serialized (one writer); reads run concurrently on their own cursors.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, bars: BarStore) -> None:
        self._db = connection
        self._bars = bars
        self._db.execute(registry.SCHEMA_SQL)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._last_created_at = registry.latest_created_at(self._db)
        self._compute_cursors: list[duckdb.DuckDBPyConnection] = []
        self._compute_lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._db.cursor()
            self._local.cursor = cursor
        return cursor

    @contextlib.contextmanager
    def compute_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own for `compute_features` while the block runs: the one given back
        last when one is free (a new one when none is), so that consecutive computed reads find
        the statements prepared on it, whichever worker thread runs them. (Thread-local cursors
        would each prepare their own: the first read on every thread would pay the planning.)"""
        with self._compute_lock:
            cursor = self._compute_cursors.pop() if self._compute_cursors else None
        if cursor is None:
            cursor = self._db.cursor()
        try:
            yield cursor
        finally:
            with self._compute_lock:
                self._compute_cursors.append(cursor)

    # -- definitions and versions ---------------------------------------------------------

    def definition(self, name: str) -> FeatureViewDefinition:
        """A built-in view's definition, else the one of the latest version stored under `name`."""
        if name in BUILTIN_VIEWS:
            return BUILTIN_VIEWS[name]
        return self.get_view(name).definition

    def list_views(self, name: str | None = None) -> list[FeatureViewVersion]:
        """Every stored version (of `name` only, when given), by name then creation time."""
        return registry.select(self._cursor(), name=name)

    def get_view(
        self, name: str, version: str | None = None, as_of: datetime | None = None
    ) -> FeatureViewVersion:
        """The pinned `version` of `name`, else its latest; with `as_of`, the version must have
        been created at or before it (the latest such one when `version` is None)."""
        as_of = ensure_utc(as_of) if as_of is not None else None
        cursor = self._cursor()
        found = registry.select(
            cursor, name=name, version=version, created_by=as_of, latest_only=version is None
        )
        if not found and not registry.has_name(cursor, name):
            raise NotFound(
                f"feature view {name!r} has no materialized version"
                + ("; materialize it first" if name in BUILTIN_VIEWS else ""),
                reason="FEATURE_VIEW_NOT_FOUND",
                metadata={"view": name},
            )
        if not found:
            when = f" materialized at or before {as_of.isoformat()}" if as_of else ""
            which = f"no version {version!r}" if version is not None else "no version"
            raise NotFound(
                f"feature view {name!r} has {which}{when}",
                reason="FEATURE_VERSION_NOT_FOUND",
                metadata={"view": name, "version": version or "", "as_of": str(as_of or "")},
            )
        return found[-1]

    def delete_version(self, name: str, version: str) -> FeatureViewVersion:
        """Remove one version and its values, on purpose; returns what was deleted."""
        with self._write_lock:
            doomed = self.get_view(name, version)
            cursor = self._cursor()
            cursor.execute("BEGIN TRANSACTION")
            try:
                registry.delete(cursor, name, version)
                cursor.execute(f"DROP TABLE IF EXISTS {doomed.value_table}")
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        return doomed

    # -- materialization ------------------------------------------------------------------

    def materialize(
        self,
        view: FeatureViewDefinition | str = DEFAULT_VIEW,
        frequency: Frequency = Frequency.DAILY,
        symbols: Sequence[str] | None = None,
    ) -> FeatureViewVersion:
        """Compute `view` for every symbol (or `symbols`) from the bars known now and store it.

        Returns the stored version: the existing one when this definition was already
        materialized on exactly these bars (nothing is recomputed).
        """
        definition = validate_definition(self.definition(view) if isinstance(view, str) else view)
        wanted = _normalize_symbols(symbols or ())
        if wanted:
            self._check_symbols(wanted, frequency)
        bars = self._bars.read(wanted, frequency, None, None, None)
        if bars.num_rows == 0:
            raise FailedPrecondition(
                f"there are no {frequency.value} bars to materialize features from",
                reason="NO_BARS",
            )
        watermark: datetime = pc.max(bars.column("ingested_at")).as_py()
        universe = sorted(pc.unique(bars.column("symbol")).to_pylist())
        definition_hash = definition.definition_hash
        version = registry.version_id(definition_hash, frequency, universe, watermark)
        existing = registry.select(self._cursor(), name=definition.name, version=version)
        if existing:
            return existing[0]
        values = compute_features(self._cursor(), bars, definition)
        self._prepare_computed_reads(bars, definition)
        # Stored like the bars: naive UTC times.
        values = values.set_column(1, "time", values.column("time").cast(pa.timestamp("us")))
        with self._write_lock:
            cursor = self._cursor()
            existing = registry.select(cursor, name=definition.name, version=version)
            if existing:  # materialized by a concurrent call meanwhile
                return existing[0]
            table = registry.value_table_name(definition.name, version)
            cursor.register("feature_values", values)
            cursor.execute("BEGIN TRANSACTION")
            try:
                cursor.execute(f"CREATE TABLE {table} AS SELECT * FROM feature_values")
                row = cursor.execute(
                    f"SELECT count(*), count(DISTINCT symbol), min(time), max(time) FROM {table}"
                ).fetchone()
                assert row is not None
                created = FeatureViewVersion(
                    name=definition.name,
                    version=version,
                    definition=definition,
                    definition_hash=definition_hash,
                    frequency=frequency,
                    feature_names=definition.feature_names,
                    symbols=tuple(universe),
                    watermark=ensure_utc(watermark),
                    first_time=ensure_utc(row[2]),
                    last_time=ensure_utc(row[3]),
                    row_count=int(row[0]),
                    symbol_count=int(row[1]),
                    created_at=self._next_created_at(),
                    value_table=table,
                )
                registry.insert(cursor, created)
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.unregister("feature_values")
            self._last_created_at = created.created_at
        return created

    def _prepare_computed_reads(self, bars: pa.Table, definition: FeatureViewDefinition) -> None:
        """Run a computed read of `definition` over the last sessions of `bars` (as the bar store
        reads them) on a compute cursor, so the first live read of the new version finds its
        statements prepared rather than planning them (~30 ms)."""
        times = pc.unique(bars.column("time")).sort()
        since = times[max(0, len(times) - 1)].as_py()
        cutoff = times[max(0, len(times) - 2 - window_lookback(definition))]
        with self.compute_cursor() as cursor:
            compute_features(cursor, bars.filter(pc.field("time") >= cutoff), definition, since)

    def _next_created_at(self) -> datetime:
        """Now, but strictly after every stored creation time, so "latest" is never a tie."""
        now = datetime.now(UTC)
        latest = self._last_created_at
        if latest is not None and latest >= now:
            now = latest + timedelta(microseconds=1)
        return now

    # -- reads ----------------------------------------------------------------------------

    def scan(
        self,
        name: str,
        version: str | None = None,
        *,
        symbols: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        features: Sequence[str] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> FeatureScan:
        """Validate a read and plan it; the rows stream from `FeatureScan.batches()`.

        `symbols` empty: all of the version's symbols; [start, end) in UTC (naive: UTC);
        `features` None: all of the view's features, in its order. Errors are raised here,
        before any row is read.
        """
        if features is not None:
            reject_labels(list(features))
        start_utc, end_utc = _check_range(start, end)
        if not 1 <= batch_rows <= MAX_BATCH_ROWS:
            raise InvalidArgument.for_field(
                "batch_rows", f"must lie in [1, {MAX_BATCH_ROWS}], got {batch_rows}"
            )
        found = self.get_view(name, version, as_of)
        columns = _check_features(found, features)
        wanted = _normalize_symbols(symbols)
        missing = sorted(set(wanted) - set(found.symbols))
        if missing:
            raise NotFound(
                f"feature view {found.name} version {found.version} has no symbol(s) "
                f"{', '.join(missing)}",
                reason="SYMBOL_NOT_FOUND",
                metadata={"symbol": ",".join(missing), "version": found.version},
            )
        return plan_scan(
            self._db.cursor, found, columns, wanted, _naive(start_utc), _naive(end_utc), batch_rows
        )

    def read(
        self,
        name: str,
        version: str | None = None,
        *,
        symbols: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        features: Sequence[str] | None = None,
    ) -> pa.Table:
        """`scan(...)` read whole: symbol, time (UTC), one float64 column per feature."""
        return self.scan(
            name,
            version,
            symbols=symbols,
            start=start,
            end=end,
            as_of=as_of,
            features=features,
        ).to_table()

    def labels(
        self,
        symbols: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        horizons: Sequence[int] = DEFAULT_HORIZONS,
        *,
        frequency: Frequency = Frequency.DAILY,
        as_of: datetime | None = None,
    ) -> pa.Table:
        """Forward log returns and directions (`labels.compute_labels`) of the bars in
        [start, end) of `symbols` (all when empty), from the bars known at `as_of` (None: now;
        pass a version's watermark to label exactly the bars it was computed from)."""
        horizons = check_horizons(horizons)
        start_utc, end_utc = _check_range(start, end)
        wanted = _normalize_symbols(symbols)
        if wanted:
            self._check_symbols(wanted, frequency)
        as_of = ensure_utc(as_of) if as_of is not None else None
        # Labels look forward: read past `end`, then keep the rows in range.
        bars = self._bars.read(wanted, frequency, start_utc, None, as_of)
        table = compute_labels(self._cursor(), bars, horizons)
        if end_utc is not None:
            table = table.filter(pc.field("time") < pa.scalar(end_utc, TIME_TYPE))
        return table

    def _check_symbols(self, wanted: list[str], frequency: Frequency) -> None:
        known = {c.symbol for c in self._bars.coverage(frequency, wanted)}
        missing = sorted(set(wanted) - known)
        if missing:
            raise NotFound(
                f"no {frequency.value} bars for symbol(s) {', '.join(missing)}",
                reason="SYMBOL_NOT_FOUND",
                metadata={"symbol": ",".join(missing)},
            )


def _normalize_symbols(symbols: Sequence[str]) -> list[str]:
    wanted = sorted({s.strip().upper() for s in symbols})
    if any(not s for s in wanted):
        raise InvalidArgument.for_field("symbols", "contains an empty symbol")
    return wanted


def _check_range(
    start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    start = ensure_utc(start) if start is not None else None
    end = ensure_utc(end) if end is not None else None
    if start is not None and end is not None and start >= end:
        raise InvalidArgument.for_field(
            "time_range", f"start {start.isoformat()} is not before end {end.isoformat()}"
        )
    return start, end


def _check_features(version: FeatureViewVersion, features: Sequence[str] | None) -> list[str]:
    if features is None:
        return list(version.feature_names)
    names = list(features)
    unknown = [n for n in names if n not in version.feature_names]
    if unknown or not names or len(set(names)) != len(names):
        description = (
            f"not in view {version.name}: {', '.join(unknown)}"
            if unknown
            else "select at least one feature, each once"
        )
        raise InvalidArgument(
            f"features: {description}",
            reason="UNKNOWN_FEATURE" if unknown else "INVALID_ARGUMENT",
            metadata={"features": ",".join(unknown)},
            violations=[FieldViolation("features", description)],
        )
    return names


def _naive(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None
