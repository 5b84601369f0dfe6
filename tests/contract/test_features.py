"""The feature store's RPCs over real gRPC: materialize, list, read (stored and live), labels,
delete, and what bad requests get."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import pytest_asyncio

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.csv_formats import parse_csv
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.settings import RuntimeSettings, load
from tests.conftest import Served, require_shared_data, serve, shutdown

pytestmark = pytest.mark.asyncio(loop_scope="module")
SYMBOLS = ("IBM", "KO", "MSFT", "WMT")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    settings = load(
        RuntimeSettings,
        environ={},
        port=0,
        host="127.0.0.1",
        data_dir=tmp_path_factory.mktemp("features"),
        shutdown_grace_s=1,
    )
    running = await serve(settings, ["marketdata"])
    folder = require_shared_data() / "daily" / "dow30"
    bars = pa.concat_tables([parse_csv(folder / f"{s}.csv").table for s in SYMBOLS])
    last = pc.max(bars.column("time"))
    await running.mesh.marketdata.ingest(
        bars.filter(pc.less(bars.column("time"), last)), Frequency.DAILY
    )
    running.last_day = bars.filter(pc.equal(bars.column("time"), last))  # type: ignore[attr-defined]
    yield running
    await shutdown(running)


async def test_materialize_is_idempotent_and_reads_back_every_feature(served: Served) -> None:
    md = served.mesh.marketdata
    view = await md.materialize_features("default", Frequency.DAILY)
    again = await md.materialize_features("default", Frequency.DAILY)
    assert again.version == view.version and again.created_at == view.created_at
    assert len(view.feature_names) >= 30 and view.symbols == SYMBOLS
    assert not any(n.startswith(("fwd_", "direction_")) for n in view.feature_names)
    found, table = await md.get_features("default", view.version, ["KO"])
    assert found.version == view.version
    assert table.column_names == ["symbol", "time", *view.feature_names]
    assert table.num_rows == view.row_count // len(SYMBOLS)
    listed = await md.list_feature_views("default")
    assert [v.version for v in listed.views] == [view.version]


async def test_live_features_match_the_stored_ones_and_cover_new_sessions(
    served: Served,
) -> None:
    md = served.mesh.marketdata
    view = await md.materialize_features("default", Frequency.DAILY)
    start = view.last_time - timedelta(days=10)
    _, stored = await md.get_features("default", view.version, start=start)
    _, live = await md.get_features("default", view.version, start=start, computed=True)
    assert live.num_rows == stored.num_rows
    for name in view.feature_names:
        a, b = stored.column(name).to_pylist(), live.column(name).to_pylist()
        assert all(
            (x is None and y is None) or abs(x - y) <= 1e-6 * max(1.0, abs(x))
            for x, y in zip(a, b, strict=True)
        ), name
    await md.ingest(served.last_day, Frequency.DAILY)  # type: ignore[attr-defined]
    _, newer = await md.get_features("default", view.version, start=start, computed=True)
    assert newer.num_rows == stored.num_rows + len(SYMBOLS)
    # The pinned version itself does not change; a new materialization is a new version.
    _, pinned = await md.get_features("default", view.version, start=start)
    assert pinned.num_rows == stored.num_rows
    newest = await md.materialize_features("default", Frequency.DAILY)
    assert newest.version != view.version and newest.watermark > view.watermark
    _, by_time = await md.get_features("default", None, ["KO"], as_of=view.created_at)
    assert by_time.num_rows == view.row_count // len(SYMBOLS)


async def test_labels_come_separately_and_look_forward(served: Served) -> None:
    labels = await served.mesh.marketdata.get_labels(["KO"], Frequency.DAILY, horizons=[1, 5])
    assert {"fwd_ret_1", "fwd_ret_5", "direction_1", "direction_5"} <= set(labels.column_names)
    assert labels.column("fwd_ret_5")[labels.num_rows - 1].as_py() is None  # no future yet


async def test_bad_requests_get_the_right_status(served: Served) -> None:
    md = served.mesh.marketdata
    with pytest.raises(NotFound):
        await md.get_features("no-such-view")
    with pytest.raises(NotFound):
        await md.get_features("default", "no-such-version")
    with pytest.raises(InvalidArgument, match="fwd_ret_1"):
        await md.get_features("default", features=["fwd_ret_1"])
    with pytest.raises(NotFound, match="ZZZZ"):
        await md.get_features("default", symbols=["ZZZZ"])
    start = served.last_day.column("time")[0].as_py()  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgument, match="time_range"):
        await md.get_features("default", start=start, end=start - timedelta(days=1))
    with pytest.raises(InvalidArgument, match="definition"):
        await md.materialize_features("custom", Frequency.DAILY, definition_json="{not json")
    with pytest.raises(InvalidArgument, match="frequency"):
        await md.materialize_features("default", None)
    with pytest.raises(InvalidArgument):
        await md.get_labels(["KO"], Frequency.DAILY, horizons=[0])
    with pytest.raises(NotFound):
        await md.delete_feature_view("default", "no-such-version")


async def test_a_version_is_deleted_only_on_purpose(served: Served) -> None:
    md = served.mesh.marketdata
    view = await md.materialize_features("default", Frequency.DAILY, symbols=["IBM", "WMT"])
    deleted = await md.delete_feature_view("default", view.version)
    assert deleted.version == view.version
    with pytest.raises(NotFound):
        await md.get_features("default", view.version)
