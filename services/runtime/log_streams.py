"""Live fan-out of logged batches, with lossless resume: the subscription machinery that every
service with a resumable stream (signal subscriptions, regime changes) shares.

A service keeps an append-only log of batches, each with a global `sequence` (the resume
cursor), the `stream` it belongs to and the symbols it covers. A subscriber names a stream, its
symbols (or all) and optionally `resume_after`, a sequence it has already seen. Each message it
receives carries a per-subscription `stream_sequence` (1, 2, ... including heartbeats) and the
batch's `log_sequence`, the cursor to resume from after a disconnect.

Resume without gap or duplicate: a subscription first reads the log after its cursor (in pages,
off the event loop); when a read comes back empty it re-reads under the publish lock and only then
turns live, so no batch can be logged between its last read and its first live message. Every
publish appends to the log and fans out under that same lock, so live batches arrive in sequence
order; anything at or below the cursor is skipped.

Heartbeats: a live subscription idle for `heartbeat_s` yields a heartbeat message (no batch,
`log_sequence` unchanged from the last data message).

Slow consumers: each live subscription has a queue of `queue_size` messages. A subscriber that
falls that far behind is dropped: its next read raises ResourceExhausted (reason SLOW_CONSUMER)
whose metadata `resume_after` is the log sequence of the last message it was given; subscribing
again with that cursor replays the rest from the log, so nothing is lost.

Shutdown: `close()` ends every subscription (its iteration stops) and refuses new subscriptions
and publishes (Unavailable).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Generic, Protocol, Self, TypeVar

from services.runtime.errors import InvalidArgument, OutOfRange, ResourceExhausted, Unavailable


class LoggedBatch(Protocol):
    """What the hub needs of a logged batch."""

    @property
    def sequence(self) -> int: ...

    @property
    def stream(self) -> str: ...

    def only(self, symbols: frozenset[str] | None) -> Self | None:
        """The batch cut to `symbols` (None: all); None when none of them is in it."""
        ...


B = TypeVar("B", bound=LoggedBatch)


class BatchLog(Protocol[B]):
    """What the hub needs of the log: its end, and pages after a cursor."""

    @property
    def last_sequence(self) -> int: ...

    def read_after(
        self, cursor: int, stream: str, symbols: frozenset[str] | None, limit: int
    ) -> list[B]: ...


@dataclass(frozen=True, slots=True)
class StreamMessage(Generic[B]):
    """One message of a subscription: a batch, or a heartbeat (batch None)."""

    stream_sequence: int
    log_sequence: int
    batch: B | None

    @property
    def heartbeat(self) -> bool:
        return self.batch is None


class _End:
    """Queue sentinel: the subscription ended."""


_END = _End()


class Subscription(Generic[B]):
    """An async iterator of StreamMessage; `close()` (or leaving `async with`) ends it."""

    def __init__(
        self,
        hub: SubscriptionHub[B],
        stream: str,
        symbols: frozenset[str] | None,
        cursor: int,
        live: bool,
        queue_size: int,
    ) -> None:
        self.stream = stream
        self.symbols = symbols
        self.cursor = cursor  # log sequence of the last batch handed out
        self.stream_sequence = 0
        self._hub = hub
        self._live = live
        self._queue: asyncio.Queue[B | _End] = asyncio.Queue(queue_size)
        self._pending: deque[B] = deque()
        self._ended = False
        self._dropped = False
        #: Heartbeat interval of this subscription; None uses the hub's.
        self.heartbeat_s: float | None = None

    def __aiter__(self) -> Subscription[B]:
        return self

    async def __anext__(self) -> StreamMessage[B]:
        while True:
            if self._dropped:
                self._ended = True
                self._dropped = False
                raise ResourceExhausted(
                    f"subscriber fell {self._queue.maxsize} messages behind and was dropped; "
                    f"subscribe again with resume_after={self.cursor}",
                    reason="SLOW_CONSUMER",
                    metadata={"resume_after": str(self.cursor), "stream": self.stream},
                )
            if self._ended:
                raise StopAsyncIteration
            if self._pending:
                return self._deliver(self._pending.popleft())
            if not self._live:
                await self._hub._catch_up(self)
                continue
            try:
                item = await asyncio.wait_for(
                    self._queue.get(), self.heartbeat_s or self._hub.heartbeat_s
                )
            except TimeoutError:
                self.stream_sequence += 1  # heartbeats are numbered too: gaps mean loss
                return StreamMessage(self.stream_sequence, self.cursor, None)
            if isinstance(item, _End):
                continue
            if item.sequence > self.cursor:
                return self._deliver(item)

    async def __aenter__(self) -> Subscription[B]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the subscription; a pending read returns StopAsyncIteration."""
        self._hub._forget(self)
        self._end()

    @property
    def live(self) -> bool:
        """True once caught up with the log and fed by live publishing."""
        return self._live

    def _deliver(self, batch: B) -> StreamMessage[B]:
        self.stream_sequence += 1
        self.cursor = batch.sequence
        return StreamMessage(self.stream_sequence, batch.sequence, batch)

    def _offer(self, batch: B) -> bool:
        """Queue a live batch; False (and dropped) when the queue is full."""
        try:
            self._queue.put_nowait(batch)
            return True
        except asyncio.QueueFull:
            self._dropped = True
            while not self._queue.empty():  # free the backlog; the log has it
                self._queue.get_nowait()
            self._queue.put_nowait(_END)  # wake a waiting reader
            return False

    def _go_live(self) -> None:
        self._live = True

    def _end(self) -> None:
        self._ended = True
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)


def normalize_symbols(symbols: Collection[str] | None) -> frozenset[str] | None:
    """Upper-cased symbol filter; None or empty means all. InvalidArgument for an empty one."""
    wanted = frozenset(s.strip().upper() for s in symbols) if symbols else None
    if wanted is not None and "" in wanted:
        raise InvalidArgument.for_field("symbols", "contains an empty symbol")
    return wanted


class SubscriptionHub(Generic[B]):
    """Fans logged batches out to subscribers; one per log, on the event loop."""

    def __init__(
        self,
        log: BatchLog[B],
        *,
        queue_size: int = 256,
        heartbeat_s: float = 5.0,
        catch_up_page: int = 500,
        max_subscribers: int = 10_000,
        service: str = "the service",
    ) -> None:
        if queue_size < 1 or heartbeat_s <= 0 or catch_up_page < 1 or max_subscribers < 1:
            raise InvalidArgument("queue_size, heartbeat_s, catch_up_page, max_subscribers > 0")
        self.log = log
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self.catch_up_page = catch_up_page
        self.max_subscribers = max_subscribers
        self._service = service
        self._live: dict[str, set[Subscription[B]]] = {}
        self._all: set[Subscription[B]] = set()
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._all)

    async def subscribe(
        self,
        stream: str,
        symbols: Collection[str] | None = None,
        resume_after: int | None = None,
    ) -> Subscription[B]:
        """A subscription to `stream` for `symbols` (None or empty: all).

        `resume_after=None` starts with the next published batch; a sequence replays the log
        after it first (0: from the beginning). OutOfRange for a cursor past the log's end.
        """
        wanted = normalize_symbols(symbols)
        if self._closed:
            raise Unavailable(f"{self._service} is shutting down; subscribe again later")
        if len(self._all) >= self.max_subscribers:
            raise ResourceExhausted(
                f"{self.max_subscribers} subscribers already", reason="TOO_MANY_SUBSCRIBERS"
            )
        if resume_after is not None and resume_after < 0:
            raise InvalidArgument.for_field("resume_after", f"{resume_after} is negative")
        async with self._lock:
            last = self.log.last_sequence
            if resume_after is not None and resume_after > last:
                raise OutOfRange(
                    f"resume_after {resume_after} is past the last logged sequence {last}",
                    reason="CURSOR_OUT_OF_RANGE",
                    metadata={"resume_after": str(resume_after), "last_sequence": str(last)},
                )
            live = resume_after is None or resume_after == last
            cursor = last if resume_after is None else resume_after
            subscription = Subscription(self, stream, wanted, cursor, live, self.queue_size)
            self._all.add(subscription)
            if live:
                self._live.setdefault(stream, set()).add(subscription)
        return subscription

    async def publish(self, append: Callable[[], B | None]) -> B | None:
        """Append to the log (`append` runs in a worker thread) and fan the batch out.

        `append` returns the logged batch, or None when it logged nothing. Shielded: once
        started, a cancelled caller cannot leave a batch logged but not sent.
        """
        if self._closed:
            raise Unavailable(f"{self._service} is shutting down")
        return await asyncio.shield(self._publish(append))

    async def _publish(self, append: Callable[[], B | None]) -> B | None:
        async with self._lock:
            batch = await asyncio.to_thread(append)
            if batch is not None:
                self._fan_out(batch)
        return batch

    async def close(self) -> None:
        """End every subscription; refuse new subscriptions and publishes."""
        self._closed = True
        async with self._lock:
            for subscription in list(self._all):
                subscription._end()
            self._all.clear()
            self._live.clear()

    def _fan_out(self, batch: B) -> None:
        cut: dict[frozenset[str] | None, B | None] = {}
        for subscription in list(self._live.get(batch.stream, ())):
            if subscription.symbols not in cut:
                cut[subscription.symbols] = batch.only(subscription.symbols)
            part = cut[subscription.symbols]
            if part is not None and not subscription._offer(part):
                self._forget(subscription)

    async def _catch_up(self, subscription: Subscription[B]) -> None:
        """Give the subscription its next page from the log, or turn it live when none is left."""
        page = await asyncio.to_thread(self._page, subscription)
        if page:
            subscription._pending.extend(page)
            return
        async with self._lock:
            page = await asyncio.to_thread(self._page, subscription)
            if page:
                subscription._pending.extend(page)
            elif subscription in self._all:
                subscription._go_live()
                self._live.setdefault(subscription.stream, set()).add(subscription)

    def _page(self, subscription: Subscription[B]) -> list[B]:
        return self.log.read_after(
            subscription.cursor, subscription.stream, subscription.symbols, self.catch_up_page
        )

    def _forget(self, subscription: Subscription[B]) -> None:
        self._all.discard(subscription)
        live = self._live.get(subscription.stream)
        if live is not None:
            live.discard(subscription)
            if not live:
                del self._live[subscription.stream]
