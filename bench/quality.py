"""Quality sentinel speed: CheckBatch over gRPC against the same checks in process.

Data: a seeded synthetic market of `--symbols` symbols (default 500); its first `--days`
sessions are history, the next session is the batch to check. A second batch is ten years
(2,520 sessions) of one synthetic symbol that has no stored history.

- in process: a `Sentinel` whose HistorySource is the same warm history window the service
  uses, over the history held in memory and told of it by a notice, with every model fitted
  first (`refresh_models`), then `inspect(day, record=False)` fenced on that notice: history
  lookup, rules, learned scores, combination.
- gRPC: `quantmesh up --service marketdata --service quality` in a child process; the history is
  ingested (through the sentinel's gate), the models fitted with `RefitModels`, then
  `CheckBatch(dry_run=True)` fenced on the ingest's ingestion time (`min_ingestion_time`, as
  marketdata's gate sends its watermark): the same work plus the history from the sentinel's
  warm window (read from marketdata once, in the warm-up round) and the transport.

Each check runs once to warm up, then `--repeat` times; medians are reported. The in-process
rounds run before the server starts, so its background work does not slow them.
Last line: `RESULT quality daily_batch_500_s=<s> grpc_vs_inprocess=<ratio>` where the first is
the gRPC time of the 500-symbol day and the ratio is in-process time / gRPC time (rate ratio).
Targets: < 1 s; ratio >= 0.7.

    python bench/quality.py [--symbols 500] [--days 300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, result_line, serve_subprocess, table
from services.marketdata.domain.bar_table import BAR_SCHEMA, Frequency
from services.marketdata.domain.store import BatchNotice
from services.marketdata.domain.synthetic import generate_market
from services.quality.domain.history import InMemoryHistory
from services.quality.domain.report import IngestDecision
from services.quality.domain.sentinel import Sentinel
from services.quality.domain.warm_history import WarmHistory


async def timed(run: Awaitable[object]) -> float:
    started = time.perf_counter()
    await run
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    market = generate_market(n_symbols=args.symbols, n_days=args.days + 1, seed=11).bars
    market = market.select(BAR_SCHEMA.names)
    days = sorted(set(market.column("time").to_pylist()))
    history = market.filter(pc.less(market.column("time"), days[-1]))
    day = market.filter(pc.equal(market.column("time"), days[-1]))
    decade = generate_market(n_symbols=1, n_days=2520, seed=12).bars.select(BAR_SCHEMA.names)
    decade = decade.set_column(0, "symbol", pa.array(["TENYEARS"] * decade.num_rows))
    print(f"history {history.num_rows:,} bars of {args.symbols} symbols; day {day.num_rows} bars")

    # In process, the same warm window over an in-memory table, told of the history as
    # marketdata's ingest stream would tell it, and the checks fenced on that notice.
    announced = datetime.now(UTC)
    symbols = sorted(set(history.column("symbol").to_pylist()))
    memory = InMemoryHistory(history)
    window = WarmHistory(memory, memory)
    await window.apply(
        BatchNotice(
            "history", announced, Frequency.DAILY, symbols, days[0], days[-2], history.num_rows
        )
    )
    sentinel = Sentinel(history=window)
    started = time.perf_counter()
    fitted = await sentinel.refresh_models(
        sorted(set(day.column("symbol").to_pylist())), before=days[-1]
    )
    print(
        f"in process: fitted {len(fitted.fitted)} symbols in {time.perf_counter() - started:.1f}s"
    )

    def in_process(batch: pa.Table) -> Awaitable[object]:
        return sentinel.inspect(
            batch,
            Frequency.DAILY,
            record=False,
            decision=IngestDecision.CHECKED,
            min_ingestion_time=announced,
        )

    samples: dict[str, list[float]] = {k: [] for k in ("day_in", "day_grpc", "ten_in", "ten_grpc")}

    async def rounds(
        check: Callable[[pa.Table], Awaitable[object]], day_key: str, ten_key: str
    ) -> None:
        for round_ in range(args.repeat + 1):
            day_s = await timed(check(day))
            ten_s = await timed(check(decade))
            if round_:
                samples[day_key].append(day_s)
                samples[ten_key].append(ten_s)

    # In process first, before the server exists: its background work (refits, the ingest
    # stream) would otherwise share this machine's two cores with the in-process checks.
    await rounds(in_process, "day_in", "ten_in")

    async with serve_subprocess(["marketdata", "quality"]) as served:
        mesh = served.mesh
        ingested = await mesh.marketdata.ingest(
            history, Frequency.DAILY, "history", force=True, timeout=600
        )
        started = time.perf_counter()
        refit = await mesh.quality.refit(
            sorted(set(day.column("symbol").to_pylist())), timeout=1800
        )
        print(
            f"gRPC: refitted {len(refit.symbols)} symbols in {time.perf_counter() - started:.1f}s"
        )

        def over_grpc(batch: pa.Table) -> Awaitable[object]:
            # Fenced on the history's ingestion time, as marketdata's gate fences on its latest:
            # the sentinel may answer from its warm history window once it has applied that
            # ingest (unfenced checks always read marketdata).
            return mesh.quality.check_batch(
                batch,
                Frequency.DAILY,
                dry_run=True,
                min_ingestion_time=ingested.ingestion_time,
                timeout=600,
            )

        await rounds(over_grpc, "day_grpc", "ten_grpc")
        verdict = await mesh.quality.check_batch(day, Frequency.DAILY, dry_run=True)
        print(f"the day's verdict over gRPC: {verdict.summary}")
    m = {k: median(v) for k, v in samples.items()}
    print(
        table(
            ["batch", "in process s", "gRPC s", "gRPC / in-process rate"],
            [
                [
                    f"one day, {day.num_rows} symbols",
                    f"{m['day_in']:.3f}",
                    f"{m['day_grpc']:.3f}",
                    f"{m['day_in'] / m['day_grpc']:.2f}",
                ],
                [
                    f"ten years, 1 symbol ({decade.num_rows:,} bars)",
                    f"{m['ten_in']:.3f}",
                    f"{m['ten_grpc']:.3f}",
                    f"{m['ten_in'] / m['ten_grpc']:.2f}",
                ],
            ],
        )
    )
    ratio = m["day_in"] / m["day_grpc"]
    print(
        result_line("quality", "daily_batch_500_s", m["day_grpc"])
        + f" grpc_vs_inprocess={ratio:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
