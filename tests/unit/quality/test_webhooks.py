"""Webhooks: signed JSON through a durable outbox, delivered at least once across restarts."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from services.quality.domain.delivery import WebhookDispatcher, backoff_delay
from services.quality.domain.event_store import EventStore
from services.quality.domain.findings import Severity
from services.quality.domain.report import IngestDecision
from services.quality.domain.webhooks import (
    ATTEMPT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    WebhookConfig,
    idempotency_key,
    sign,
    verify,
)
from services.runtime.errors import InvalidArgument
from tests.unit.quality.receiver import Receiver
from tests.unit.quality.reports import assessment, report

SECRET = "whsec-test"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def config(*urls: str, **options: object) -> WebhookConfig:
    defaults: dict[str, object] = {"backoff_base_s": 0.05, "backoff_cap_s": 0.2, "timeout_s": 2.0}
    return WebhookConfig.of(list(urls), SECRET, **(defaults | options))


async def until(condition: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "example.com", "http://"]
)
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        WebhookConfig.of([url], SECRET)
    assert caught.value.violations[0].field == "webhook_urls"


def test_a_secret_is_required_and_signatures_verify() -> None:
    with pytest.raises(InvalidArgument, match="secret"):
        WebhookConfig.of(["https://hooks.example.com/q"], "")
    body = b'{"a":1}'
    assert sign(SECRET, body).startswith("sha256=")
    assert verify(SECRET, body, sign(SECRET, body))
    assert not verify(SECRET, b'{"a":2}', sign(SECRET, body))
    assert idempotency_key("e1", "http://a/") == idempotency_key("e1", "http://a/")
    assert idempotency_key("e1", "http://a/") != idempotency_key("e1", "http://b/")


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap() -> None:
    policy = config("http://127.0.0.1:1/", backoff_base_s=1.0, backoff_cap_s=30.0)
    rng = random.Random(4)
    delays = [backoff_delay(attempt, policy, rng) for attempt in range(1, 9)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(30.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 30.0


async def test_every_event_arrives_after_the_receiver_was_down_across_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = str(tmp_path / "quality.duckdb")
    hooks = config(receiver.url)
    batch = report(
        assessment(0, "AAA", Severity.HIGH),
        assessment(1, "BBB", Severity.CRITICAL),
        assessment(2, "CCC", Severity.MEDIUM),
        assessment(3, "DDD", Severity.HIGH),
    )
    # Receiver down: events are stored and queued; the worker tries and fails.
    first_db = duckdb.connect(path)
    store = EventStore(first_db, webhooks=hooks)
    events = store.record(batch, IngestDecision.COMMITTED)
    paged = {e.id for e in events if e.severity >= Severity.HIGH}
    assert len(paged) == 3
    worker = WebhookDispatcher(store, hooks, poll_interval_s=0.05)
    await worker.start()
    await until(
        lambda: (
            (r := store.cursor().execute("SELECT min(attempts) FROM webhook_outbox").fetchone())
            is not None
            and r[0] >= 1
        )
    )
    await worker.stop()  # the service restarts
    assert store.outbox_stats().pending == 3
    first_db.close()
    # Receiver up; a new store and worker on a fresh connection to the same file.
    receiver.start()
    second_db = duckdb.connect(path)
    restarted = EventStore(second_db, webhooks=hooks)
    worker = WebhookDispatcher(restarted, hooks, poll_interval_s=0.05)
    await worker.start()
    await until(lambda: restarted.outbox_stats().delivered == 3)
    await worker.stop()
    second_db.close()
    delivered = {}
    for message in receiver.received:
        headers = {k.lower(): v for k, v in message.headers.items()}
        assert verify(SECRET, message.body, headers[SIGNATURE_HEADER.lower()])
        payload = json.loads(message.body)
        event_id = payload["event"]["id"]
        assert headers[IDEMPOTENCY_HEADER.lower()] == idempotency_key(event_id, receiver.url)
        assert int(headers[ATTEMPT_HEADER.lower()]) >= 2
        delivered[event_id] = payload["event"]
    assert set(delivered) == paged
    assert {e["severity"] for e in delivered.values()} == {"HIGH", "CRITICAL"}


async def test_failed_posts_are_retried_until_accepted(tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    receiver.start()
    hooks = config(receiver.url)
    connection = duckdb.connect(str(tmp_path / "q.duckdb"))
    store = EventStore(connection, webhooks=hooks)
    store.record(report(assessment(0, "AAA", Severity.CRITICAL)), IngestDecision.QUARANTINED)
    worker = WebhookDispatcher(store, hooks, poll_interval_s=0.05)
    await worker.start()
    await until(lambda: store.outbox_stats().delivered == 1)
    await worker.stop()
    keys = {m.headers["Idempotency-Key"] for m in receiver.received}
    assert len(receiver.received) == 3 and len(keys) == 1
    assert [m.headers[ATTEMPT_HEADER] for m in receiver.received] == ["1", "2", "3"]
    connection.close()


async def test_a_delivery_gives_up_after_max_attempts_and_keeps_the_row(tmp_path: Path) -> None:
    hooks = config("http://127.0.0.1:9/down", max_attempts=2)
    connection = duckdb.connect(str(tmp_path / "q.duckdb"))
    store = EventStore(connection, webhooks=hooks)
    store.record(report(assessment(0, "AAA", Severity.HIGH)), IngestDecision.COMMITTED)
    worker = WebhookDispatcher(store, hooks, poll_interval_s=0.05)
    await worker.start()
    await until(lambda: store.outbox_stats().dead == 1)
    await worker.stop()
    assert store.outbox_stats().pending == 0
    connection.close()
