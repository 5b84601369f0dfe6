"""The feature store as marketdata serves it: materialize, list, read (stored or computed live),
labels, delete; blocking work runs off the event loop.

Computed reads serve bars newer than a version (live scoring): they apply the version's
definition to the latest bars of the version's whole universe (cross-sectional ranks need every
symbol) from a warm-up window before `start`, long enough for every smoothing to converge, and
keep the rows from `start` on. A value at t still uses bars up to t only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from services.marketdata.domain.bar_table import TIME_TYPE, Frequency
from services.marketdata.domain.features.definition import FeatureViewDefinition
from services.marketdata.domain.features.labels import DEFAULT_HORIZONS
from services.marketdata.domain.features.pipeline import compute_features
from services.marketdata.domain.features.registry import FeatureViewVersion
from services.marketdata.domain.features.store import FeatureStore
from services.marketdata.domain.store import BarStore
from services.runtime.errors import InvalidArgument
from services.runtime.pagination import clamp_page_size, decode_page_token, encode_page_token
from services.runtime.time_convert import ensure_utc

#: Calendar time before `start` that computed reads include, per frequency: about 400 bars,
#: after which EMA and Wilder weights of the longest default smoothing are below 1e-11.
WARMUP: dict[Frequency, timedelta] = {
    Frequency.DAILY: timedelta(days=600),
    Frequency.MINUTE: timedelta(days=5),
}


@dataclass(frozen=True)
class FeatureViewPage:
    views: list[FeatureViewVersion]
    next_page_token: str


class Features:
    def __init__(self, store: FeatureStore, bars: BarStore) -> None:
        self.store = store
        self.bars = bars

    async def materialize(
        self,
        view: str = "default",
        frequency: Frequency | None = Frequency.DAILY,
        symbols: Sequence[str] = (),
        definition_json: str = "",
    ) -> FeatureViewVersion:
        if frequency is None:
            raise InvalidArgument.for_field("frequency", "is required (1d or 1m)")
        target: FeatureViewDefinition | str = view or "default"
        if definition_json:
            try:
                target = FeatureViewDefinition.from_json(definition_json)
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidArgument.for_field(
                    "definition_json", f"is not a feature view definition: {exc}"
                ) from None
        return await asyncio.to_thread(self.store.materialize, target, frequency, list(symbols))

    async def list_views(
        self, name: str = "", page_size: int = 0, page_token: str = ""
    ) -> FeatureViewPage:
        filters = {"name": name}
        after = decode_page_token(page_token, filters)
        limit = clamp_page_size(page_size, default=100, maximum=1000)
        views = await asyncio.to_thread(self.store.list_views, name or None)
        keyed = [(f"{v.name}\x00{v.created_at.isoformat()}", v) for v in views]
        remaining = [v for k, v in keyed if after is None or k > after]
        page = remaining[:limit]
        token = ""
        if len(remaining) > limit:
            last = page[-1]
            token = encode_page_token(f"{last.name}\x00{last.created_at.isoformat()}", filters)
        return FeatureViewPage(page, token)

    async def read(
        self,
        view: str = "default",
        version: str | None = None,
        symbols: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
        features: Sequence[str] | None = None,
        computed: bool = False,
    ) -> tuple[FeatureViewVersion, pa.Table]:
        """The version read and its rows (symbol, time, features) in [start, end)."""
        view = view or "default"
        if not computed:
            scan = await asyncio.to_thread(
                self.store.scan,
                view,
                version,
                symbols=symbols,
                start=start,
                end=end,
                as_of=as_of,
                features=features,
            )
            return scan.version, await asyncio.to_thread(scan.to_table)
        return await asyncio.to_thread(
            self._compute, view, version, symbols, start, end, as_of, features
        )

    def _compute(
        self,
        view: str,
        version: str | None,
        symbols: Sequence[str],
        start: datetime | None,
        end: datetime | None,
        as_of: datetime | None,
        features: Sequence[str] | None,
    ) -> tuple[FeatureViewVersion, pa.Table]:
        # scan() validates everything (version, symbols, range, feature names) up front.
        found = self.store.scan(
            view, version, symbols=symbols, start=start, end=end, as_of=as_of, features=features
        ).version
        start = ensure_utc(start) if start is not None else None
        end = ensure_utc(end) if end is not None else None
        since = start - WARMUP[found.frequency] if start is not None else None
        bars = self.bars.read(list(found.symbols), found.frequency, since, end, None)
        if bars.num_rows == 0:
            return found, _empty(found, features)
        # Only the rows from `start` on: the stages read the warm-up only as far as they need,
        # through statements prepared on the compute cursor.
        with self.store.compute_cursor() as cursor:
            values = compute_features(cursor, bars, found.definition, since=start)
        wanted = {s.strip().upper() for s in symbols}
        if wanted:
            values = values.filter(pc.is_in(values.column("symbol"), pa.array(sorted(wanted))))
        if features is not None:
            values = values.select(["symbol", "time", *features])
        return found, values

    async def labels(
        self,
        symbols: Sequence[str] = (),
        frequency: Frequency | None = Frequency.DAILY,
        start: datetime | None = None,
        end: datetime | None = None,
        horizons: Sequence[int] = DEFAULT_HORIZONS,
        as_of: datetime | None = None,
    ) -> pa.Table:
        if frequency is None:
            raise InvalidArgument.for_field("frequency", "is required (1d or 1m)")
        return await asyncio.to_thread(
            self.store.labels,
            symbols,
            start,
            end,
            horizons or DEFAULT_HORIZONS,
            frequency=frequency,
            as_of=as_of,
        )

    async def delete(self, name: str, version: str) -> FeatureViewVersion:
        if not name:
            raise InvalidArgument.for_field("name", "is required")
        if not version:
            raise InvalidArgument.for_field("version", "is required")
        return await asyncio.to_thread(self.store.delete_version, name, version)


def _empty(found: FeatureViewVersion, features: Sequence[str] | None) -> pa.Table:
    names = list(features) if features is not None else list(found.feature_names)
    return pa.table(
        {"symbol": pa.array([], pa.string()), "time": pa.array([], TIME_TYPE)}
        | {n: pa.array([], pa.float64()) for n in names}
    )
