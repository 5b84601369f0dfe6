"""Long-running operations over gRPC: submit, dedupe, get, list, watch, cancel, restart, drain."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from google.protobuf import wrappers_pb2

from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from services.runtime.operations.manager import OperationManager, Progress
from services.runtime.operations.model import OperationState
from services.runtime.settings import RuntimeSettings
from tests.conftest import Served, serve, shutdown


def manager_of(served: Served) -> OperationManager:
    manager = served.server.services[0].operations
    assert manager is not None
    return manager


def counting_job(steps: int, gate: asyncio.Event | None = None):  # type: ignore[no-untyped-def]
    async def job(progress: Progress) -> wrappers_pb2.Int64Value:
        for step in range(steps):
            if gate is not None:
                await gate.wait()
            progress.update((step + 1) / steps, f"step {step + 1} of {steps}")
            await asyncio.sleep(0.01)
        return wrappers_pb2.Int64Value(value=steps)

    return job


async def test_a_submitted_job_is_watched_to_its_result(served: Served) -> None:
    record = await manager_of(served).submit("count", counting_job(5), request_id="r1")
    assert record.name.startswith("operations/marketdata/")
    client = served.mesh.operations("marketdata")
    states = [r async for r in client.watch(record.name)]
    assert states[-1].state is OperationState.SUCCEEDED
    assert [r.progress for r in states] == sorted(r.progress for r in states)
    result = wrappers_pb2.Int64Value()
    assert states[-1].result is not None
    result.ParseFromString(states[-1].result.value)
    assert result.value == 5
    assert states[-1].result.type_url.endswith("google.protobuf.Int64Value")
    assert (await client.get(record.name)).end_time is not None


async def test_a_retried_submit_returns_the_same_operation(served: Served) -> None:
    manager = manager_of(served)
    first = await manager.submit("count", counting_job(3), request_id="same", fingerprint="a")
    again = await manager.submit("count", counting_job(3), request_id="same", fingerprint="a")
    assert again.id == first.id
    with pytest.raises(AlreadyExists):
        await manager.submit("count", counting_job(3), request_id="same", fingerprint="b")
    listed, _ = await served.mesh.operations("marketdata").list(service="marketdata")
    assert [r.id for r in listed] == [first.id]


async def test_operations_list_newest_first_in_pages(served: Served) -> None:
    manager = manager_of(served)
    ids = [(await manager.submit("count", counting_job(1))).id for _ in range(5)]
    client = served.mesh.operations("marketdata")
    seen, token = [], ""
    while True:
        page, token = await client.list("marketdata", page_size=2, page_token=token)
        seen += [r.id for r in page]
        if not token:
            break
    assert seen == list(reversed(ids))
    only_kind, _ = await client.list("marketdata", kind="other")
    assert only_kind == []


async def test_cancel_stops_a_running_job(served: Served) -> None:
    gate = asyncio.Event()
    record = await manager_of(served).submit("blocked", counting_job(3, gate))
    client = served.mesh.operations("marketdata")
    cancelled = await client.cancel(record.name)
    assert cancelled.state is OperationState.CANCELLED
    assert cancelled.failure is not None and cancelled.failure.code == "CANCELLED"
    with pytest.raises(FailedPrecondition):
        await client.cancel(record.name)


async def test_a_failing_job_reports_its_error(served: Served) -> None:
    async def job(progress: Progress) -> wrappers_pb2.Int64Value:
        raise InvalidArgument.for_field("label", "unknown label 'y'")

    record = await manager_of(served).submit("fails", job)
    final = await served.mesh.operations("marketdata").wait(record.name)
    assert final.state is OperationState.FAILED
    assert final.failure is not None
    assert (final.failure.code, final.failure.reason) == ("INVALID_ARGUMENT", "INVALID_ARGUMENT")


async def test_bad_operation_names_are_rejected(served: Served) -> None:
    client = served.mesh.operations("marketdata")
    with pytest.raises(InvalidArgument):
        await client.get("not-a-name")
    with pytest.raises(NotFound):
        await client.get("operations/marketdata/nope")
    with pytest.raises(NotFound):
        await client.get("operations/unknown-service/abc")
    with pytest.raises(NotFound):
        await client.cancel("operations/marketdata/nope")
    with pytest.raises(NotFound):
        async for _ in client.watch("operations/marketdata/nope"):
            pass
    with pytest.raises(NotFound):
        await client.list(service="unknown-service")
    with pytest.raises(InvalidArgument):
        await client.list(service="marketdata", page_size=-1)
    with pytest.raises(InvalidArgument):
        await client.list(service="marketdata", page_token="forged")
    health = await served.mesh.health("marketdata").check("")
    assert health.status == "SERVING"


async def test_operations_survive_a_restart(settings: RuntimeSettings) -> None:
    first = await serve(settings, ["marketdata"])
    done = await manager_of(first).submit("count", counting_job(1), request_id="keep")
    await first.mesh.operations("marketdata").wait(done.name)
    running = await manager_of(first).submit("blocked", counting_job(1, asyncio.Event()))
    await shutdown(first)

    second = await serve(settings, ["marketdata"])
    try:
        client = second.mesh.operations("marketdata")
        assert (await client.get(done.name)).state is OperationState.SUCCEEDED
        interrupted = await client.get(running.name)
        assert interrupted.state is OperationState.CANCELLED
        again = await manager_of(second).submit("count", counting_job(1), request_id="keep")
        assert again.id == done.id
    finally:
        await shutdown(second)


async def test_an_idle_watch_ends_with_unavailable_when_the_server_stops(
    settings: RuntimeSettings,
) -> None:
    served = await serve(replace(settings, shutdown_grace_s=0.3), ["marketdata"])
    record = await manager_of(served).submit("blocked", counting_job(1, asyncio.Event()))
    watch = served.mesh.operations("marketdata").watch(record.name)
    assert (await watch.__anext__()).state in (OperationState.PENDING, OperationState.RUNNING)
    stopping = asyncio.create_task(served.server.stop(grace=0.3))
    with pytest.raises(Unavailable) as caught:
        async for _ in watch:
            pass
    assert "shutting down" in caught.value.message
    await stopping
    await served.mesh.close()
