"""Deadline propagation from a served call to the calls it makes."""

from __future__ import annotations

import asyncio

import pytest

from services.clients.base import ServiceClient
from services.runtime.deadlines import cap_timeout, deadline_scope, remaining
from services.runtime.errors import DeadlineExceeded
from services.runtime.interceptors import DeadlineInterceptor


def test_outside_a_served_call_timeouts_are_unchanged() -> None:
    assert remaining() is None
    assert cap_timeout(30.0) == 30.0
    assert cap_timeout(None) is None


def test_inside_a_served_call_timeouts_are_capped_by_the_time_left() -> None:
    with deadline_scope(2.0):
        assert cap_timeout(30.0) <= 2.0  # type: ignore[operator]
        assert cap_timeout(None) <= 2.0  # type: ignore[operator]
        assert cap_timeout(0.5) == 0.5
    assert remaining() is None


def test_a_passed_deadline_fails_before_calling() -> None:
    with deadline_scope(-0.1), pytest.raises(DeadlineExceeded):
        cap_timeout(5.0)


def test_clients_apply_the_cap_and_keep_zero_as_no_deadline() -> None:
    client = ServiceClient(channel=None, timeout=30.0)  # type: ignore[arg-type]
    assert client._options(None)["timeout"] == 30.0
    assert client._options(0)["timeout"] is None
    with deadline_scope(1.0):
        assert client._options(None)["timeout"] <= 1.0


class FakeContext:
    def time_remaining(self) -> float:
        return 1.5


async def test_the_server_interceptor_opens_a_scope_for_the_handler() -> None:
    seen: list[float | None] = []

    async def handler(request: object, context: object) -> str:
        seen.append(remaining())
        await asyncio.sleep(0)
        return "ok"

    result = await DeadlineInterceptor().around_unary(handler, None, FakeContext(), "/a.B/C", {})
    assert result == "ok"
    assert seen[0] is not None
    assert 1.0 < seen[0] <= 1.5
