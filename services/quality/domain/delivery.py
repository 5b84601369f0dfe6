"""The webhook delivery worker: POSTs pending outbox rows until each is answered with a 2xx.

One asyncio task per dispatcher (`start`/`stop`). Each round takes the due rows, POSTs them
concurrently (signed, with the idempotency key), marks successes delivered and reschedules
failures after an exponential backoff with jitter, capped. It sleeps until the next row is due,
`poll_interval_s` at the most, or until `wake()` (called after new events are stored).
Database calls run on the dispatcher's own thread, so the event loop never waits on DuckDB,
and `stop` returns only once no call of the dispatcher is still using the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import httpx

from services.quality.domain import outbox
from services.quality.domain.event_store import EventStore
from services.quality.domain.webhooks import (
    ATTEMPT_HEADER,
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    WebhookConfig,
    sign,
)

log = logging.getLogger("quantmesh.quality.webhooks")
T = TypeVar("T")


@dataclass(frozen=True)
class RoundResult:
    """What one delivery round did."""

    attempted: int
    delivered: int
    failed: int


def backoff_delay(attempts: int, config: WebhookConfig, rng: random.Random) -> float:
    """Seconds before attempt `attempts + 1`: base x 2^(attempts-1), capped, times U(0.5, 1)."""
    exponential = config.backoff_base_s * 2 ** max(attempts - 1, 0)
    return float(min(config.backoff_cap_s, exponential) * rng.uniform(0.5, 1.0))


class WebhookDispatcher:
    """Delivers the outbox of one EventStore to the URLs its rows name."""

    def __init__(
        self,
        store: EventStore,
        config: WebhookConfig,
        *,
        client: httpx.AsyncClient | None = None,
        poll_interval_s: float = 1.0,
        batch_size: int = 50,
        concurrency: int = 8,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self._client = client
        self._own_client = client is None
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self._limit = asyncio.Semaphore(concurrency)
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._db_thread: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the worker task (idempotent)."""
        if self.running:
            return
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout_s)
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quality-outbox")
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="quality-webhooks")

    async def stop(self) -> None:
        """Stop the worker (a POST in flight is abandoned; its row stays pending)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        db_thread, self._db_thread = self._db_thread, None
        if db_thread is not None:  # wait for a database call the cancellation left running
            await asyncio.to_thread(db_thread.shutdown, True)
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """Deliver now instead of at the next poll (new events were stored)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.deliver_due()
                pause = await self._pause()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery round failed")
                pause = self.poll_interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            self._wake.clear()

    async def _db(self, fn: Callable[[], T]) -> T:
        """Run a database call on the dispatcher's thread (the default pool before start)."""
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, fn)

    async def _pause(self) -> float:
        upcoming = await self._db(lambda: outbox.next_due(self.store.cursor()))
        if upcoming is None:
            return self.poll_interval_s
        wait = (upcoming - datetime.now(UTC)).total_seconds()
        return min(max(wait, 0.0), self.poll_interval_s)

    async def deliver_due(self) -> RoundResult:
        """One round: POST every due row once."""
        now = datetime.now(UTC)
        rows = await self._db(lambda: outbox.due(self.store.cursor(), now, self.batch_size))
        if not rows:
            return RoundResult(0, 0, 0)
        outcomes = await asyncio.gather(*(self._deliver(row) for row in rows))
        delivered = sum(outcomes)
        return RoundResult(len(rows), delivered, len(rows) - delivered)

    async def _deliver(self, row: outbox.Delivery) -> bool:
        attempt = row.attempts + 1
        body = row.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.config.secret, body),
            IDEMPOTENCY_HEADER: row.key,
            EVENT_HEADER: row.event_id,
            ATTEMPT_HEADER: str(attempt),
        }
        error = ""
        async with self._limit:
            assert self._client is not None, "start() the dispatcher first"
            try:
                response = await self._client.post(
                    row.url, content=body, headers=headers, timeout=self.config.timeout_s
                )
                if 200 <= response.status_code < 300:
                    await self._db(partial(self._mark_delivered, row.key, attempt))
                    return True
                error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        dead = self.config.max_attempts is not None and attempt >= self.config.max_attempts
        retry_at = datetime.now(UTC) + timedelta(
            seconds=backoff_delay(attempt, self.config, self._rng)
        )
        await self._db(partial(self._mark_failed, row.key, attempt, error, retry_at, dead))
        log.warning(
            "webhook %s for event %s failed (attempt %d): %s%s",
            row.url,
            row.event_id,
            attempt,
            error,
            "; giving up" if dead else "",
        )
        return False

    def _mark_delivered(self, key: str, attempts: int) -> None:
        with self.store.transaction() as cursor:
            outbox.mark_delivered(cursor, key, attempts, datetime.now(UTC))

    def _mark_failed(
        self, key: str, attempts: int, error: str, retry_at: datetime, dead: bool
    ) -> None:
        with self.store.transaction() as cursor:
            outbox.mark_failed(cursor, key, attempts, error, retry_at, dead)
