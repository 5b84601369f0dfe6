"""Backtests: validate a strategy, run the engine over the provider's sources, keep the results.

    backtests = Backtests(BacktestStore(connection), provider)
    config = await backtests.prepare(config)          # InvalidArgument naming the bad fields
    record = backtests.create(config)                 # PENDING, readable at once
    record = await backtests.run(record.id, progress) # RUNNING ... SUCCEEDED (or FAILED)

`prepare` runs the engine's validation, refuses universes above the size limit, regime labels
no regime model answers with, and symbols the data does not have (asked of the provider, so
the service asks marketdata); each problem is a field violation named as in `StrategyConfig`
("universe[2]", "rules.long_entry.rules[0].values[1]"). `run` reads the inputs (one call per
source), simulates in a worker thread (the engine's), and stores the record, KPIs, equity curve
and trades in one transaction. Runs beyond `max_running` wait PENDING for a free slot.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime

import pyarrow as pa

from backtest.config import (
    REGIME_FIELD,
    Rule,
    RuleGroup,
    Rules,
    RuleSource,
    StrategyConfig,
)
from backtest.engine import run_backtest
from backtest.kpis import Kpis
from backtest.validation import check
from services.backtest.domain.ports import SourceProvider
from services.backtest.domain.records import (
    BacktestRecord,
    BacktestState,
    RunError,
    parse_backtest_name,
)
from services.backtest.domain.store import BacktestStore
from services.runtime.deadlines import deadline_scope
from services.runtime.errors import (
    Cancelled,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    QuantmeshError,
)
from services.runtime.model_refs import ModelRef
from services.runtime.pagination import clamp_page_size, decode_page_token, encode_page_token

#: Reports (fraction done, what is happening); thread-safe callers only.
ProgressSink = Callable[[float, str], None]

#: The stages of a run and the share of progress each ends at.
READING, SIMULATING, STORING = 0.05, 0.1, 0.95


class Backtests:
    def __init__(
        self,
        store: BacktestStore,
        provider: SourceProvider,
        *,
        max_universe: int = 1_000,
        max_running: int = 2,
        run_timeout_s: float = 3_600.0,
        regime_labels: Collection[str] | None = None,
    ) -> None:
        """`regime_labels`: the labels regime rules may name (None: any)."""
        self.store = store
        self.provider = provider
        self.max_universe = max_universe
        self.run_timeout_s = run_timeout_s
        self.regime_labels = None if regime_labels is None else frozenset(regime_labels)
        self._slots = asyncio.Semaphore(max_running)
        self._live: dict[str, tuple[float, str]] = {}

    def recover(self) -> list[str]:
        """Mark runs a previous process left unfinished as cancelled; their ids."""
        now = datetime.now(UTC)
        interrupted = []
        for record in self.store.unfinished():
            self.store.save(
                replace(
                    record,
                    state=BacktestState.CANCELLED,
                    end_time=now,
                    error=RunError(
                        "CANCELLED",
                        "interrupted by a server restart; submit it again",
                        "CANCELLED",
                    ),
                )
            )
            interrupted.append(record.id)
        return interrupted

    # -- submit ------------------------------------------------------------------------------

    async def prepare(self, config: StrategyConfig) -> StrategyConfig:
        """The config normalized (symbols and regime labels upper-cased) and checked:
        InvalidArgument listing every problem, each naming its field."""
        config = normalize(config)
        check(config)
        found: list[FieldViolation] = []
        if len(config.universe) > self.max_universe:
            found.append(FieldViolation("universe", f"at most {self.max_universe} symbols"))
        found += self._label_violations(config)
        found += _model_violations(config)
        if not found:
            symbols = (*config.universe, *config.extra_symbols())
            missing = await self.provider.missing_symbols(symbols, config.frequency)
            found += _symbol_violations(config, missing)
        if found:
            shown = "; ".join(f"{v.field}: {v.description}" for v in found[:5])
            raise InvalidArgument(
                f"invalid strategy config: {shown}",
                reason="INVALID_STRATEGY",
                metadata={"field": found[0].field, "violations": str(len(found))},
                violations=found,
            )
        return config

    def _label_violations(self, config: StrategyConfig) -> list[FieldViolation]:
        if self.regime_labels is None:
            return []
        known = ", ".join(sorted(self.regime_labels))
        found = []
        for path, rule in config.all_rules():
            if rule.source is not RuleSource.REGIME:
                continue
            operands = [(f"{path}.values[{j}]", v) for j, v in enumerate(rule.values)]
            if rule.value is not None:
                operands.append((f"{path}.value", rule.value))
            for where, value in operands:
                if isinstance(value, str) and value not in self.regime_labels:
                    found.append(FieldViolation(where, f"unknown regime {value!r}; use {known}"))
        return found

    def create(
        self,
        config: StrategyConfig,
        *,
        backtest_id: str | None = None,
        operation: str = "",
        request_id: str = "",
    ) -> BacktestRecord:
        """Record a prepared config as a PENDING backtest."""
        record = BacktestRecord(
            id=backtest_id or uuid.uuid4().hex,
            config=config,
            state=BacktestState.PENDING,
            create_time=datetime.now(UTC),
            operation=operation,
            request_id=request_id,
            progress_message="waiting for a free runner",
        )
        self.store.save(record)
        return record

    async def run_config(self, config: StrategyConfig) -> BacktestRecord:
        """Prepare, create and run in one call (in-process use)."""
        return await self.run(self.create(await self.prepare(config)).id)

    # -- run ---------------------------------------------------------------------------------

    async def run(
        self,
        backtest_id: str,
        progress: ProgressSink | None = None,
        cancel: threading.Event | None = None,
    ) -> BacktestRecord:
        """Run a created backtest to its end; the finished record. A failure is recorded and
        raised (the operation fails with it); cancelling the task records CANCELLED and stops
        the simulation at its next progress report."""
        record = self.store.get(backtest_id)
        cancel = cancel or threading.Event()

        def report(fraction: float, message: str) -> None:
            self._live[backtest_id] = (fraction, message)
            if progress is not None:
                progress(fraction, message)

        def on_simulation(fraction: float) -> None:
            if cancel.is_set():
                raise Cancelled("cancelled before it finished")
            report(SIMULATING + (STORING - SIMULATING) * fraction, "simulating")

        try:
            async with self._slots:
                record = replace(
                    record,
                    state=BacktestState.RUNNING,
                    start_time=datetime.now(UTC),
                    progress=READING,
                    progress_message="reading bars, signals, regimes and features",
                )
                self.store.save(record)
                report(record.progress, record.progress_message)
                inputs = self.provider.for_run(record.config)
                with deadline_scope(self.run_timeout_s):
                    result = await run_backtest(
                        record.config, inputs.sources, progress=on_simulation
                    )
                report(STORING, "storing results")
                finished = replace(
                    record,
                    state=BacktestState.SUCCEEDED,
                    progress=1.0,
                    progress_message="done",
                    end_time=datetime.now(UTC),
                    kpis=result.kpis,
                    provenance=inputs.provenance(),
                    bar_count=int(result.equity.times.size),
                    trade_count=len(result.trades),
                )
                # One transaction that, once under way, is let finish: a cancel arriving now
                # leaves a finished run, not a cancelled one with its results stored.
                storing = asyncio.ensure_future(
                    asyncio.to_thread(self.store.save_result, finished, result)
                )
                try:
                    await asyncio.shield(storing)
                except asyncio.CancelledError:
                    await storing
                return finished
        except asyncio.CancelledError:
            cancel.set()
            self._end(record, BacktestState.CANCELLED, Cancelled("cancelled before it finished"))
            raise
        except QuantmeshError as exc:
            self._end(record, BacktestState.FAILED, exc)
            raise
        except Exception as exc:
            self._end(
                record,
                BacktestState.FAILED,
                QuantmeshError(f"{type(exc).__name__}: {exc}"),
            )
            raise
        finally:
            self._live.pop(backtest_id, None)

    def _end(self, record: BacktestRecord, state: BacktestState, exc: QuantmeshError) -> None:
        error = RunError(exc.code, exc.message, exc.reason, tuple(v.field for v in exc.violations))
        live = self._live.get(record.id)
        self.store.save(
            replace(
                record,
                state=state,
                end_time=datetime.now(UTC),
                error=error,
                progress=live[0] if live else record.progress,
                progress_message=live[1] if live else record.progress_message,
            )
        )

    # -- read --------------------------------------------------------------------------------

    def get(self, name: str) -> BacktestRecord:
        """A backtest by name or id, with the live progress of a running one."""
        record = self.store.get(parse_backtest_name(name))
        live = self._live.get(record.id)
        if live is not None and record.state is BacktestState.RUNNING:
            record = replace(record, progress=live[0], progress_message=live[1])
        return record

    def exists(self, backtest_id: str) -> bool:
        return self.store.exists(backtest_id)

    def list(
        self,
        strategy_name: str = "",
        state: BacktestState | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> tuple[list[BacktestRecord], str]:
        """One page, newest first, and the token of the next ("" on the last page)."""
        filters = {"strategy_name": strategy_name, "state": state}
        after = decode_page_token(page_token, filters)
        if after is not None and not (
            isinstance(after, list) and len(after) == 2 and all(isinstance(a, str) for a in after)
        ):
            raise InvalidArgument.for_field("page_token", "is not a token this service issued")
        limit = clamp_page_size(page_size, default=50, maximum=500)
        records = self.store.page(strategy_name, state, tuple(after) if after else None, limit + 1)
        records = [self.get(r.id) if r.id in self._live else r for r in records]
        if len(records) <= limit:
            return records, ""
        last = records[limit - 1]
        position = [last.create_time.replace(tzinfo=None).isoformat(), last.id]
        return records[:limit], encode_page_token(position, filters)

    def finished(self, name: str) -> BacktestRecord:
        """The backtest when it succeeded; FailedPrecondition otherwise."""
        record = self.get(name)
        if record.state is not BacktestState.SUCCEEDED:
            why = f": {record.error.message}" if record.error else ""
            raise FailedPrecondition(
                f"backtest {record.name} is {record.state.value}, not SUCCEEDED{why}",
                metadata={"backtest": record.name, "state": record.state.value},
            )
        return record

    def kpis(self, name: str) -> Kpis:
        record = self.finished(name)
        assert record.kpis is not None
        return record.kpis

    async def equity(self, name: str) -> pa.Table:
        """The equity curve of a finished backtest (see store.EQUITY_SCHEMA)."""
        record = self.finished(name)
        return await asyncio.to_thread(self.store.equity, record.id)

    async def trades(self, name: str) -> pa.Table:
        """The fills of a finished backtest (see store.TRADES_SCHEMA)."""
        record = self.finished(name)
        return await asyncio.to_thread(self.store.trades, record.id)


# -- normalization and symbol checks --------------------------------------------------------


def _symbol(value: str | None) -> str | None:
    return value.strip().upper() if isinstance(value, str) else value


def _rule(rule: Rule) -> Rule:
    if not isinstance(rule, Rule):
        return rule
    changed = replace(rule, symbol=_symbol(rule.symbol))
    if rule.source is RuleSource.REGIME:
        changed = replace(
            changed,
            field=rule.field or REGIME_FIELD,
            value=rule.value.strip().upper() if isinstance(rule.value, str) else rule.value,
            values=tuple(v.strip().upper() if isinstance(v, str) else v for v in rule.values),
        )
    return changed


def _group(group: RuleGroup | None) -> RuleGroup | None:
    if not isinstance(group, RuleGroup):
        return group
    return replace(group, rules=tuple(_rule(r) for r in group.rules))


def normalize(config: StrategyConfig) -> StrategyConfig:
    """Symbols upper-cased and stripped (as marketdata keeps them), regime labels upper-cased."""
    universe = config.universe
    if isinstance(universe, tuple | list):
        universe = tuple(s.strip().upper() if isinstance(s, str) else s for s in universe)
    rules = config.rules
    if isinstance(rules, Rules):
        rules = Rules(
            _group(rules.long_entry),
            _group(rules.long_exit),
            _group(rules.short_entry),
            _group(rules.short_exit),
        )
    return replace(
        config,
        universe=universe,  # type: ignore[arg-type]
        rules=rules,
        benchmark=_symbol(config.benchmark),
    )


def _model_violations(config: StrategyConfig) -> list[FieldViolation]:
    found = []
    for name in ("signal_model", "regime_model"):
        model = getattr(config, name)
        if model is None:
            continue
        try:
            ModelRef.parse(model, name)
        except InvalidArgument as exc:
            description = exc.violations[0].description if exc.violations else exc.message
            found.append(FieldViolation(name, description))
    return found


def _symbol_violations(config: StrategyConfig, missing: Collection[str]) -> list[FieldViolation]:
    if not missing:
        return []
    frequency = config.frequency.value
    found = []

    def unknown(symbol: str) -> str:
        return f"unknown symbol {symbol!r}: marketdata has no {frequency} bars for it"

    for i, symbol in enumerate(config.universe):
        if symbol in missing:
            found.append(FieldViolation(f"universe[{i}]", unknown(symbol)))
    if config.benchmark is not None and config.benchmark in missing:
        found.append(FieldViolation("benchmark", unknown(config.benchmark)))
    for path, rule in config.all_rules():
        if rule.symbol is not None and rule.symbol in missing:
            found.append(FieldViolation(f"{path}.symbol", unknown(rule.symbol)))
    return found
