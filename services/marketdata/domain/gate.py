"""The pre-commit hook where the data-quality sentinel inspects every ingest batch.

marketdata asks its gate about each validated batch before committing it. Until the sentinel
service exists, `PassThroughGate` lets every batch through and says so in the log and in the
ingest response, so nobody mistakes an unchecked batch for a checked one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from services.marketdata.domain.bar_table import Frequency

log = logging.getLogger("quantmesh.marketdata.gate")


@dataclass(frozen=True)
class GateDecision:
    """Whether to commit the batch, and the words recorded with it."""

    commit: bool
    summary: str


class IngestGate(Protocol):
    async def inspect(self, bars: pa.Table, frequency: Frequency, source: str) -> GateDecision:
        """Decide about a validated batch before it is committed."""


class PassThroughGate:
    """No sentinel configured: every batch passes, unchecked."""

    async def inspect(self, bars: pa.Table, frequency: Frequency, source: str) -> GateDecision:
        summary = "passed unchecked: no quality sentinel is configured"
        log.info("batch of %d rows from %r %s", bars.num_rows, source, summary)
        return GateDecision(commit=True, summary=summary)
