"""The feature store as the signal service reads it: marketdata over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pyarrow as pa

from services.clients.mesh import MeshClient
from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.features.registry import FeatureViewVersion
from services.marketdata.domain.store import BatchNotice
from services.runtime.peers import Peers
from services.runtime.settings import RuntimeSettings
from services.signal.domain.feature_port import FeatureViewInfo


class MarketDataFeatures:
    """`FeatureSource` over the marketdata client; the channel opens on first use."""

    def __init__(self, runtime: RuntimeSettings, peers: Peers) -> None:
        self._runtime = runtime
        self._peers = peers
        self._mesh: MeshClient | None = None

    @property
    def mesh(self) -> MeshClient:
        if self._mesh is None:
            self._mesh = MeshClient(self._runtime, resolve=self._peers.address_for)
        return self._mesh

    async def read_features(
        self,
        view: str,
        version: str | None,
        symbols: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        computed: bool = False,
    ) -> tuple[FeatureViewInfo, pa.Table]:
        found, table = await self.mesh.marketdata.get_features(
            view, version, symbols, start, end, computed=computed
        )
        return _info(found), table

    async def find_view(self, view: str, version: str | None) -> FeatureViewInfo:
        # An empty time range: validates the view and version, reads no rows.
        found, _ = await self.mesh.marketdata.get_features(view, version, end=_EPOCH)
        return _info(found)

    async def read_labels(
        self,
        symbols: Sequence[str],
        frequency: Frequency,
        start: datetime | None,
        end: datetime | None,
        horizons: Sequence[int],
        as_of: datetime | None,
    ) -> pa.Table:
        return await self.mesh.marketdata.get_labels(
            symbols, frequency, start, end, horizons, as_of
        )

    def watch_ingests(
        self, after: datetime | None, frequency: Frequency | None, heartbeat_s: float
    ) -> AsyncIterator[BatchNotice | None]:
        return self.mesh.marketdata.watch_ingests(after, frequency, heartbeat_s)

    async def close(self) -> None:
        if self._mesh is not None:
            await self._mesh.close()


_EPOCH = datetime(1970, 1, 2, tzinfo=UTC)


def _info(found: FeatureViewVersion) -> FeatureViewInfo:
    return FeatureViewInfo(
        found.name,
        found.version,
        found.frequency,
        tuple(found.feature_names),
        tuple(found.symbols),
        found.watermark,
        found.first_time,
        found.last_time,
    )
