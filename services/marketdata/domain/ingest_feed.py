"""Live notices of committed ingest batches, for WatchIngests.

A watcher first subscribes to live notices, then replays the batch log after its resume point,
then drains the live queue skipping anything the replay already covered: no gap and no duplicate
even when a batch commits while the replay runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from services.marketdata.domain.bar_table import Frequency
from services.marketdata.domain.store import BatchNotice
from services.runtime.errors import ResourceExhausted

HEARTBEAT = None  # what a watch yields when it has been idle for the heartbeat interval


class IngestFeed:
    """Fans out batch notices to watchers, each through a bounded queue.

    A watcher that falls `queue_size` notices behind is ended with RESOURCE_EXHAUSTED; it can
    resume from the last notice it saw, because every notice is also in the batch log.
    """

    def __init__(self, queue_size: int = 1_000) -> None:
        self.queue_size = queue_size
        self._queues: set[asyncio.Queue[BatchNotice | Exception]] = set()
        #: Knowledge time of the latest notice published by this process (None before the
        #: first): a watcher that has seen it has seen every batch committed up to it.
        self.last_published: datetime | None = None

    def publish(self, notice: BatchNotice) -> None:
        if self.last_published is None or notice.ingested_at > self.last_published:
            self.last_published = notice.ingested_at
        for queue in list(self._queues):
            if queue.full():
                self._queues.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(
                    ResourceExhausted(
                        f"ingest watcher fell {self.queue_size} notices behind; "
                        "resume with `after` set to the last ingestion time received"
                    )
                )
            else:
                queue.put_nowait(notice)

    def close(self) -> None:
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(StopAsyncIteration())
        self._queues.clear()

    async def watch(
        self,
        replay: Callable[[datetime | None], list[BatchNotice]],
        after: datetime | None,
        frequency: Frequency | None,
        heartbeat_s: float,
    ) -> AsyncIterator[BatchNotice | None]:
        """Replayed then live notices after `after`; None as a heartbeat when idle."""
        queue: asyncio.Queue[BatchNotice | Exception] = asyncio.Queue(self.queue_size + 1)
        self._queues.add(queue)
        try:
            last = after
            if after is not None:
                for notice in await asyncio.to_thread(replay, after):
                    last = notice.ingested_at
                    yield notice
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), heartbeat_s)
                except TimeoutError:
                    yield HEARTBEAT
                    continue
                if isinstance(item, StopAsyncIteration):
                    return
                if isinstance(item, Exception):
                    raise item
                if last is not None and item.ingested_at <= last:
                    continue
                if frequency is not None and item.frequency is not frequency:
                    continue
                last = item.ingested_at
                yield item
        finally:
            self._queues.discard(queue)
