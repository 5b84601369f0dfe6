"""The feature kinds a definition may use, and the validation of definitions against them.

Three engines: `sql` kinds are DuckDB window expressions (`sql_kinds`), `talib` kinds run TA-Lib
per symbol (`talib_kinds`), and `cs_rank` ranks another feature of the same view across symbols
at each time (DuckDB, after the others).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from services.marketdata.domain.features.definition import (
    FeatureSpec,
    FeatureViewDefinition,
    ParamValue,
    check_identifier,
)
from services.marketdata.domain.features.labels import reject_labels
from services.marketdata.domain.features.sql_kinds import SQL_KINDS
from services.marketdata.domain.features.talib_kinds import TALIB_KINDS, Series
from services.runtime.errors import InvalidArgument

#: The longest window a parameter may ask for, in bars.
MAX_PERIOD = 10_000
MAX_FEATURES = 500
CS_RANK = "cs_rank"


class Engine(StrEnum):
    SQL = "sql"
    TALIB = "talib"
    RANK = "rank"


@dataclass(frozen=True)
class KindInfo:
    """What a kind takes and what it computes (for listings and validation)."""

    name: str
    engine: Engine
    params: tuple[tuple[str, type[int] | type[float] | type[str]], ...]
    doc: str


@functools.cache
def kinds() -> Mapping[str, KindInfo]:
    """Every kind by name."""
    out: dict[str, KindInfo] = {
        k: KindInfo(k, Engine.SQL, v.params, v.doc) for k, v in SQL_KINDS.items()
    }
    out |= {k: KindInfo(k, Engine.TALIB, v.params, v.doc) for k, v in TALIB_KINDS.items()}
    out[CS_RANK] = KindInfo(
        CS_RANK,
        Engine.RANK,
        (("source", str),),
        "percentile rank (0..1) of another feature among the symbols at each time",
    )
    return out


def engine_of(spec: FeatureSpec) -> Engine:
    return kinds()[spec.kind].engine


def define_view(
    name: str, features: Sequence[FeatureSpec], description: str = ""
) -> FeatureViewDefinition:
    """A validated definition with its parameters normalized (so equal meaning, equal hash)."""
    return validate_definition(FeatureViewDefinition(name, tuple(features), description))


def validate_definition(definition: FeatureViewDefinition) -> FeatureViewDefinition:
    """The definition with normalized parameters; InvalidArgument naming the first fault."""
    check_identifier(definition.name, "definition.name")
    if not definition.features:
        raise InvalidArgument.for_field("definition.features", "a view needs at least one feature")
    if len(definition.features) > MAX_FEATURES:
        raise InvalidArgument.for_field(
            "definition.features", f"a view holds at most {MAX_FEATURES} features"
        )
    names = [spec.name for spec in definition.features]
    for i, feature_name in enumerate(names):
        check_identifier(feature_name, f"definition.features[{i}].name")
    reject_labels(names, "definition.features")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InvalidArgument.for_field(
            "definition.features", f"feature names appear twice: {', '.join(twice)}"
        )
    known = kinds()
    specs = tuple(
        _normalize(spec, known, f"definition.features[{i}]", definition)
        for i, spec in enumerate(definition.features)
    )
    return FeatureViewDefinition(definition.name, specs, definition.description)


def _normalize(
    spec: FeatureSpec, known: Mapping[str, KindInfo], where: str, view: FeatureViewDefinition
) -> FeatureSpec:
    kind = known.get(spec.kind)
    if kind is None:
        raise InvalidArgument.for_field(
            f"{where}.kind", f"unknown kind {spec.kind!r}; known: {', '.join(sorted(known))}"
        )
    expected = {name for name, _ in kind.params}
    extra = sorted(set(spec.params) - expected)
    missing = sorted(expected - set(spec.params))
    if extra or missing:
        raise InvalidArgument.for_field(
            f"{where}.params",
            f"kind {spec.kind} takes {', '.join(sorted(expected)) or 'no parameters'}"
            + (f"; unknown: {', '.join(extra)}" if extra else "")
            + (f"; missing: {', '.join(missing)}" if missing else ""),
        )
    params = {
        name: _value(spec.params[name], kind_type, f"{where}.params.{name}")
        for name, kind_type in kind.params
    }
    if kind.engine is Engine.RANK:
        _check_rank_source(str(params["source"]), view, f"{where}.params.source")
    if kind.engine is Engine.TALIB:
        _probe_talib(spec.kind, params, where)
    return FeatureSpec(spec.name, spec.kind, params)


def _probe_talib(kind: str, params: Mapping[str, ParamValue], where: str) -> None:
    """Run the kind on a few bars, so parameters TA-Lib refuses fail here, not mid-materialize."""
    bars = np.linspace(10.0, 11.0, 8)
    try:
        TALIB_KINDS[kind].compute(Series(bars, bars + 0.5, bars - 0.5, bars, bars * 100), params)
    except Exception as exc:  # TA-Lib raises a bare Exception for a bad parameter
        raise InvalidArgument.for_field(
            f"{where}.params", f"TA-Lib refuses these parameters: {exc}"
        ) from None


def _value(value: object, kind_type: type, where: str) -> ParamValue:
    if kind_type is str:
        if not isinstance(value, str):
            raise InvalidArgument.for_field(where, f"expected a feature name, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument.for_field(where, f"expected a number, got {value!r}")
    if kind_type is int:
        if value != int(value):
            raise InvalidArgument.for_field(where, f"expected a whole number, got {value!r}")
        if not 1 <= value <= MAX_PERIOD:
            raise InvalidArgument.for_field(where, f"must lie in [1, {MAX_PERIOD}], got {value!r}")
        return int(value)
    if not 0 < value <= MAX_PERIOD:
        raise InvalidArgument.for_field(where, f"must be a positive number, got {value!r}")
    return float(value)


def _check_rank_source(source: str, view: FeatureViewDefinition, where: str) -> None:
    try:
        spec = view.spec(source)
    except KeyError:
        raise InvalidArgument.for_field(
            where, f"{source!r} is not a feature of view {view.name}"
        ) from None
    if spec.kind == CS_RANK:
        raise InvalidArgument.for_field(where, f"{source!r} is itself a rank; rank a value")
