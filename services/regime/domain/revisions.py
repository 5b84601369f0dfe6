"""Which cached answers the bitemporal store has since made stale.

Every committed ingest batch names its symbols, its earliest bar time and its knowledge time.
A regime at bar time t depends on the symbol's bars up to t, so an answer computed when the
store was known up to watermark W is stale once a later batch (knowledge time > W) touched the
symbol at or before t. The index keeps, per symbol, the batches it has seen in knowledge order.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class _SymbolRevisions:
    ingested_at: list[float] = field(default_factory=list)  # ascending
    first_time: list[float] = field(default_factory=list)
    #: min(first_time[i:]): the earliest bar any batch from i on touched.
    suffix_min: list[float] = field(default_factory=list)


class RevisionIndex:
    def __init__(self) -> None:
        self._symbols: dict[str, _SymbolRevisions] = {}
        self.watermark: datetime | None = None

    def record(self, symbols: Iterable[str], first_time: datetime, ingested_at: datetime) -> None:
        """A committed batch; batches arrive in knowledge-time order."""
        known, first = ingested_at.timestamp(), first_time.timestamp()
        for symbol in symbols:
            revisions = self._symbols.setdefault(symbol, _SymbolRevisions())
            revisions.ingested_at.append(known)
            revisions.first_time.append(first)
            revisions.suffix_min.append(first)
            # Keep the suffix minima true for every earlier position.
            i = len(revisions.suffix_min) - 2
            while i >= 0 and revisions.suffix_min[i] > first:
                revisions.suffix_min[i] = first
                i -= 1
        if self.watermark is None or ingested_at > self.watermark:
            self.watermark = ingested_at

    def stale(self, symbol: str, bar_time: datetime, computed_as_of: datetime) -> bool:
        """True when a batch known after `computed_as_of` touched `symbol` at or before
        `bar_time`."""
        revisions = self._symbols.get(symbol)
        if revisions is None:
            return False
        i = bisect.bisect_right(revisions.ingested_at, computed_as_of.timestamp())
        return i < len(revisions.suffix_min) and revisions.suffix_min[i] <= bar_time.timestamp()
