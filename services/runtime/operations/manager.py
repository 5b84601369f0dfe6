"""Runs long-running jobs for one service and keeps their records current.

`submit` deduplicates on the client's `request_id`, starts the job as an asyncio task and returns
the record at once. Jobs report progress through `Progress` (safe to call from worker threads);
watchers are woken on every change. Records are persisted on every state change and at most
every `persist_interval_s` for progress, so a restart loses at most a little progress; jobs that
were running when the process died are marked CANCELLED on start, since their work is gone.

Tracing: the job's task starts with a copy of the submitting call's context, so its work runs
in an `operations/{service}/{kind}` span that is a child of the submitting RPC's server span (it
outlives that span), and every call the job makes downstream belongs to the same trace.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.runtime.errors import (
    AlreadyExists,
    Cancelled,
    FailedPrecondition,
    NotFound,
    QuantmeshError,
)
from services.runtime.operations.model import (
    OperationFailure,
    OperationRecord,
    OperationResult,
    OperationState,
)
from services.runtime.operations.store import OperationStore
from services.runtime.pagination import clamp_page_size, decode_page_token, encode_page_token

log = logging.getLogger("quantmesh.operations")
tracer = trace.get_tracer("quantmesh.operations")


class Progress:
    """Handed to a job: `update(fraction, message)` from the event loop or any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Callable[[float, str], None]):
        self._loop = loop
        self._sink = sink

    def update(self, fraction: float, message: str = "") -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._sink(fraction, message)
        else:
            self._loop.call_soon_threadsafe(self._sink, fraction, message)


Job = Callable[[Progress], Awaitable[Message]]


class OperationManager:
    def __init__(
        self, service: str, store: OperationStore, persist_interval_s: float = 0.5
    ) -> None:
        self.service = service
        self._store = store
        self._persist_interval_s = persist_interval_s
        self._live: dict[str, OperationRecord] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._last_persist: dict[str, float] = {}
        self._watchers: set[asyncio.Event] = set()
        self._submit_lock = asyncio.Lock()

    async def start(self) -> None:
        """Mark jobs a previous process left unfinished as cancelled: their work is lost."""
        for record in self._store.unfinished(self.service):
            now = datetime.now(UTC)
            self._store.save(
                replace(
                    record,
                    state=OperationState.CANCELLED,
                    update_time=now,
                    end_time=now,
                    failure=OperationFailure(
                        "CANCELLED",
                        "interrupted by a server restart; submit it again",
                        "CANCELLED",
                    ),
                )
            )
            log.warning("operation %s was interrupted by a restart", record.name)

    async def close(self) -> None:
        """Cancel running jobs (recorded as CANCELLED) and wait for them to finish."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def submit(
        self, kind: str, job: Job, request_id: str = "", fingerprint: str = ""
    ) -> OperationRecord:
        """Start `job` and return its record; a known `request_id` returns the existing one."""
        async with self._submit_lock:
            if request_id:
                existing = self._store.find_by_request_id(self.service, request_id)
                if existing is not None:
                    if fingerprint and existing.fingerprint != fingerprint:
                        raise AlreadyExists(
                            f"request_id {request_id!r} was already used for a different request",
                            metadata={"request_id": request_id, "operation": existing.name},
                        )
                    return self._live.get(existing.id, existing)
            now = datetime.now(UTC)
            record = OperationRecord(
                id=uuid.uuid4().hex,
                service=self.service,
                kind=kind,
                state=OperationState.PENDING,
                create_time=now,
                update_time=now,
                request_id=request_id,
                fingerprint=fingerprint,
            )
            self._store.save(record)
            self._live[record.id] = record
        loop = asyncio.get_running_loop()
        progress = Progress(loop, lambda f, m: self._on_progress(record.id, f, m))
        # The task copies the current context: the job's span is a child of the caller's.
        self._tasks[record.id] = asyncio.create_task(self._traced(record, job, progress))
        return record

    def get(self, operation_id: str) -> OperationRecord:
        record = self._live.get(operation_id) or self._store.get(operation_id)
        if record is None or record.service != self.service:
            raise NotFound(
                f"no operation {self.service}/{operation_id}",
                metadata={"operation": f"operations/{self.service}/{operation_id}"},
            )
        return record

    def list(
        self,
        kind: str = "",
        state: OperationState | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> tuple[list[OperationRecord], str]:
        filters = {"service": self.service, "kind": kind, "state": state}
        after = decode_page_token(page_token, filters)
        limit = clamp_page_size(page_size, default=50, maximum=500)
        records = self._store.page(
            self.service, kind, state, tuple(after) if after else None, limit + 1
        )
        records = [self._live.get(r.id, r) for r in records]
        if len(records) <= limit:
            return records, ""
        last = records[limit - 1]
        return records[:limit], encode_page_token([last.create_time.isoformat(), last.id], filters)

    async def cancel(self, operation_id: str) -> OperationRecord:
        record = self.get(operation_id)
        if record.state.terminal:
            raise FailedPrecondition(
                f"operation {record.name} already finished ({record.state.value})",
                metadata={"operation": record.name, "state": record.state.value},
            )
        task = self._tasks.get(operation_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return self.get(operation_id)

    async def watch(self, operation_id: str) -> AsyncIterator[OperationRecord]:
        """The current record, then every change, ending after a terminal state."""
        changed = asyncio.Event()
        self._watchers.add(changed)
        try:
            last = self.get(operation_id)
            yield last
            while not last.state.terminal:
                await changed.wait()
                changed.clear()
                current = self.get(operation_id)
                if current != last:
                    last = current
                    yield last
        finally:
            self._watchers.discard(changed)

    # -- internals ---------------------------------------------------------------------------

    async def _traced(self, record: OperationRecord, job: Job, progress: Progress) -> None:
        """Run the job in a span of its own, from start to its terminal state."""
        with tracer.start_as_current_span(
            f"operations/{self.service}/{record.kind}",
            kind=SpanKind.INTERNAL,
            attributes={"quantmesh.operation.name": record.name},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            final = await self._run(record.id, job, progress)
            span.set_attribute("quantmesh.operation.state", final.state.value)
            if final.failure is not None:
                failure = final.failure
                span.set_status(Status(StatusCode.ERROR, f"{failure.code}: {failure.message}"))

    async def _run(self, operation_id: str, job: Job, progress: Progress) -> OperationRecord:
        """Run the job to its end; the terminal record."""
        self._update(operation_id, state=OperationState.RUNNING)
        try:
            message = await job(progress)
        except asyncio.CancelledError:
            return self._finish(
                operation_id,
                OperationState.CANCELLED,
                failure=_failure(Cancelled("cancelled before it finished")),
            )
        except QuantmeshError as exc:
            return self._finish(operation_id, OperationState.FAILED, failure=_failure(exc))
        except Exception as exc:
            log.exception("operation %s failed", operation_id)
            return self._finish(
                operation_id,
                OperationState.FAILED,
                failure=OperationFailure("INTERNAL", f"{type(exc).__name__}: {exc}", "INTERNAL"),
            )
        else:
            result = OperationResult(
                f"type.googleapis.com/{message.DESCRIPTOR.full_name}", message.SerializeToString()
            )
            return self._finish(operation_id, OperationState.SUCCEEDED, result=result)
        finally:
            self._tasks.pop(operation_id, None)

    def _on_progress(self, operation_id: str, fraction: float, message: str) -> None:
        record = self._live.get(operation_id)
        if record is None or record.state.terminal:
            return
        persist = time.monotonic() - self._last_persist.get(operation_id, 0.0)
        self._update(
            operation_id,
            persist=persist >= self._persist_interval_s,
            progress=fraction,
            progress_message=message or record.progress_message,
        )

    def _finish(
        self,
        operation_id: str,
        state: OperationState,
        result: OperationResult | None = None,
        failure: OperationFailure | None = None,
    ) -> OperationRecord:
        record = self._live[operation_id]
        self._update(
            operation_id,
            state=state,
            end_time=datetime.now(UTC),
            result=result,
            failure=failure,
            progress=1.0 if state is OperationState.SUCCEEDED else record.progress,
        )
        self._last_persist.pop(operation_id, None)
        return self._live.pop(operation_id)

    def _update(self, operation_id: str, persist: bool = True, **changes: Any) -> None:
        record = replace(self._live[operation_id], update_time=datetime.now(UTC), **changes)
        self._live[operation_id] = record
        if persist:
            self._store.save(record)
            self._last_persist[operation_id] = time.monotonic()
        for changed in self._watchers:
            changed.set()


def _failure(exc: QuantmeshError) -> OperationFailure:
    return OperationFailure(exc.code, exc.message, exc.reason, dict(exc.metadata))
