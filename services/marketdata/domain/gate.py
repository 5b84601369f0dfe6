"""The pre-commit hook where the data-quality sentinel inspects every ingest batch.

marketdata asks its gate about each validated batch before committing it. `PassThroughGate` (no
sentinel configured) lets every batch through and says so. `SentinelGate` asks the quality
service: a CRITICAL finding quarantines the batch unless the ingest is forced. When the sentinel
cannot be reached, a configured policy decides: fail open (commit unchecked, and say so) or fail
closed (refuse the ingest with UNAVAILABLE, so the client retries later).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency
from services.runtime.errors import DeadlineExceeded, Unavailable

log = logging.getLogger("quantmesh.marketdata.gate")


class IngestOutcome(StrEnum):
    """What happened to a batch; the values are stored and shown to users."""

    COMMITTED = "committed"
    COMMITTED_UNCHECKED = "committed_unchecked"
    COMMITTED_FORCED = "committed_forced"
    QUARANTINED = "quarantined"

    @property
    def commits(self) -> bool:
        return self is not IngestOutcome.QUARANTINED


@dataclass(frozen=True)
class GateDecision:
    """The gate's outcome for a batch, the words recorded with it, and the events behind it."""

    outcome: IngestOutcome
    summary: str
    event_ids: list[str] = field(default_factory=list)


class IngestGate(Protocol):
    async def inspect(
        self, bars: pa.Table, frequency: Frequency, source: str, batch_id: str, force: bool
    ) -> GateDecision:
        """Decide about a validated batch before it is committed."""


class PassThroughGate:
    """No sentinel configured: every batch passes, unchecked."""

    async def inspect(
        self, bars: pa.Table, frequency: Frequency, source: str, batch_id: str, force: bool
    ) -> GateDecision:
        summary = "committed unchecked: no quality sentinel is configured"
        log.info("batch %s of %d rows from %r %s", batch_id, bars.num_rows, source, summary)
        return GateDecision(IngestOutcome.COMMITTED_UNCHECKED, summary)


@dataclass(frozen=True)
class SentinelVerdict:
    """The sentinel's answer about a batch, as the gate needs it."""

    quarantine: bool
    forced: bool
    summary: str
    event_ids: list[str]


class BatchChecker(Protocol):
    """The sentinel as seen from marketdata (the quality service's typed client adapts to it)."""

    async def check_batch(
        self, bars: pa.Table, frequency: Frequency, source: str, batch_id: str, force: bool
    ) -> SentinelVerdict: ...


class FailurePolicy(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SentinelGate:
    """Asks the quality sentinel about every batch; follows `policy` when it cannot answer."""

    def __init__(self, checker: BatchChecker, policy: FailurePolicy) -> None:
        self.checker = checker
        self.policy = policy

    async def inspect(
        self, bars: pa.Table, frequency: Frequency, source: str, batch_id: str, force: bool
    ) -> GateDecision:
        try:
            verdict = await self.checker.check_batch(bars, frequency, source, batch_id, force)
        except (Unavailable, DeadlineExceeded) as exc:
            if self.policy is FailurePolicy.CLOSED:
                raise Unavailable(
                    f"the quality sentinel is unreachable ({exc.message}); ingest refused by "
                    "the fail-closed policy, retry later",
                    reason="QUALITY_SENTINEL_UNAVAILABLE",
                ) from exc
            summary = (
                f"committed unchecked: the quality sentinel is unreachable ({exc.message}) "
                "and the policy is fail-open"
            )
            log.warning("batch %s: %s", batch_id, summary)
            return GateDecision(IngestOutcome.COMMITTED_UNCHECKED, summary)
        if verdict.quarantine:
            outcome = IngestOutcome.QUARANTINED
        elif verdict.forced:
            outcome = IngestOutcome.COMMITTED_FORCED
        else:
            outcome = IngestOutcome.COMMITTED
        return GateDecision(outcome, verdict.summary, list(verdict.event_ids))
