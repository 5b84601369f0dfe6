"""marketdata over the wire only: hostile requests, status details, restarts, shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import pyarrow as pa
import pytest
from google.rpc import error_details_pb2, status_pb2
from quantmesh.common.v1 import arrow_pb2, bar_pb2
from quantmesh.marketdata.v1 import marketdata_pb2 as pb
from quantmesh.marketdata.v1 import marketdata_pb2_grpc

from services.clients.mesh import MeshClient
from services.marketdata.app import MarketDataService, MarketDataSettings
from services.marketdata.domain.bar_table import Frequency
from services.runtime.arrow_frames import encode_table
from services.runtime.errors import InvalidArgument, ResourceExhausted, Unavailable
from services.runtime.peers import Peers
from services.runtime.server import MeshServer
from services.runtime.settings import RuntimeSettings
from services.runtime.status_codes import STATUS_DETAILS_KEY
from tests.bars import make_bars
from tests.conftest import Served, serve, shutdown

MARKETDATA = "quantmesh.marketdata.v1.MarketDataService"


def frame(table: pa.Table, index: int = 0) -> arrow_pb2.ArrowFrame:
    return arrow_pb2.ArrowFrame(
        ipc_stream=encode_table(table), row_count=table.num_rows, chunk_index=index
    )


async def raw_ingest(served: Served, messages: list[pb.IngestBarsRequest]) -> grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(served.address) as channel:
        stub = marketdata_pb2_grpc.MarketDataServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.IngestBars(iter(messages), timeout=10)
    return caught.value


async def assert_healthy_and_empty(served: Served) -> None:
    health = await served.mesh.health("marketdata").check(MARKETDATA)
    assert health.status == "SERVING"
    assert (await served.mesh.marketdata.list_symbols()).symbols == []


HOSTILE = {
    "not arrow": [
        pb.IngestBarsRequest(
            frequency=bar_pb2.FREQUENCY_DAILY, frame=arrow_pb2.ArrowFrame(ipc_stream=b"\x00garbage")
        )
    ],
    "no frequency": [pb.IngestBarsRequest(frame=frame(make_bars()))],
    "unknown frequency": [pb.IngestBarsRequest(frequency=99, frame=frame(make_bars()))],
    "frequency changes mid-stream": [
        pb.IngestBarsRequest(frequency=bar_pb2.FREQUENCY_DAILY, frame=frame(make_bars())),
        pb.IngestBarsRequest(frequency=bar_pb2.FREQUENCY_MINUTE, frame=frame(make_bars(("B",)))),
    ],
    "empty stream": [],
    "chunks of different schemas": [
        pb.IngestBarsRequest(frequency=bar_pb2.FREQUENCY_DAILY, frame=frame(make_bars())),
        pb.IngestBarsRequest(frame=frame(pa.table({"x": [1]}))),
    ],
    "bad row in the second chunk": [
        pb.IngestBarsRequest(frequency=bar_pb2.FREQUENCY_DAILY, frame=frame(make_bars(("A",)))),
        pb.IngestBarsRequest(frame=frame(make_bars(("B",), price=-3.0))),
    ],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_ingest_streams_are_invalid_and_leave_no_trace(
    served: Served, case: str
) -> None:
    error = await raw_ingest(served, HOSTILE[case])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details()
    assert "Traceback" not in error.details()
    await assert_healthy_and_empty(served)


async def test_errors_carry_error_info_and_bad_request_details(served: Served) -> None:
    bad = make_bars(("A",), price=-3.0)
    error = await raw_ingest(
        served, [pb.IngestBarsRequest(frequency=bar_pb2.FREQUENCY_DAILY, frame=frame(bad))]
    )
    trailer = dict(error.trailing_metadata())[STATUS_DETAILS_KEY]
    status = status_pb2.Status.FromString(trailer)
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info) and status.details[1].Unpack(bad_request)
    assert (info.reason, info.domain) == ("INVALID_ROW", "quantmesh.dev")
    assert bad_request.field_violations[0].field == "rows[0].open"


async def test_oversized_batches_are_resource_exhausted(settings: RuntimeSettings) -> None:
    service = MarketDataService(settings, Peers(settings), MarketDataSettings(max_batch_rows=10))
    server = MeshServer([service], settings)
    port = await server.start()
    address = f"127.0.0.1:{port}"
    served = Served(server, address, MeshClient(settings, address=address), settings)
    try:
        with pytest.raises(ResourceExhausted):
            await served.mesh.marketdata.ingest(make_bars(("A", "B", "C")), Frequency.DAILY)
        await assert_healthy_and_empty(served)
    finally:
        await shutdown(served)


async def test_unknown_enum_values_in_reads_are_invalid(served: Served) -> None:
    async with grpc.aio.insecure_channel(served.address) as channel:
        stub = marketdata_pb2_grpc.MarketDataServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stub.GetBars(pb.GetBarsRequest(frequency=7), timeout=5):
                pass
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stub.GetBars(
                pb.GetBarsRequest(frequency=1, max_rows_per_chunk=-1), timeout=5
            ):
                pass
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_bars_are_streamed_in_bounded_chunks(served: Served) -> None:
    await served.mesh.marketdata.ingest(make_bars(("A", "B"), days=50), Frequency.DAILY)
    chunks = [c async for c in served.mesh.marketdata.iter_bars(["A", "B"], max_rows_per_chunk=30)]
    assert [c.num_rows for c in chunks] == [30, 30, 30, 10]


async def test_data_survives_a_server_restart(settings: RuntimeSettings) -> None:
    first = await serve(settings, ["marketdata"])
    report = await first.mesh.marketdata.ingest(make_bars(days=10), Frequency.DAILY)
    await shutdown(first)
    second = await serve(settings, ["marketdata"])
    try:
        stored = await second.mesh.marketdata.get_bars(["AAA"])
        assert stored.num_rows == 10
        assert set(stored.column("ingested_at").to_pylist()) == {report.ingestion_time}
        again = await second.mesh.marketdata.ingest(make_bars(days=10), Frequency.DAILY)
        assert again.rows_unchanged == 10
    finally:
        await shutdown(second)


async def test_shutdown_drains_then_ends_open_streams_with_unavailable(
    settings: RuntimeSettings,
) -> None:
    served = await serve(replace(settings, shutdown_grace_s=0.5), ["marketdata"])
    # 40,000 one-row chunks: far more than the server can send within drain + grace.
    await served.mesh.marketdata.ingest(make_bars(("A", "B"), days=20_000), Frequency.DAILY)
    stream = served.mesh.marketdata.iter_bars(["A", "B"], max_rows_per_chunk=1)
    await stream.__anext__()
    stopping = asyncio.create_task(served.server.stop(grace=0.5, drain=0.5))
    await asyncio.sleep(0.2)
    # During the drain, health already says NOT_SERVING and calls still work.
    health = await served.mesh.health("marketdata").check(MARKETDATA)
    assert health.status == "NOT_SERVING"
    await asyncio.sleep(1.0)  # the slow reader is now past drain and grace
    # A reader this slow holds the server's write in flow control; gRPC ends the call at stop
    # with UNAVAILABLE, the retryable code clients reconnect on.
    with pytest.raises(Unavailable):
        async for _ in stream:
            pass
    await stopping
    await served.mesh.close()


async def test_a_bad_ingest_does_not_disturb_concurrent_good_ones(served: Served) -> None:
    good = [served.mesh.marketdata.ingest(make_bars((f"S{i}",)), Frequency.DAILY) for i in range(5)]
    bad = served.mesh.marketdata.ingest(make_bars(("BAD",), price=-1.0), Frequency.DAILY)
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert isinstance(results[-1], InvalidArgument)
    listed = [s.symbol for s in (await served.mesh.marketdata.list_symbols()).symbols]
    assert listed == [f"S{i}" for i in range(5)]
