"""Feature view definitions: the default view's contents, the stable hash, validation."""

from __future__ import annotations

import hashlib
import json

import pytest

from services.marketdata.domain.features import (
    DEFAULT_VIEW,
    FeatureSpec,
    FeatureViewDefinition,
    define_view,
    kinds,
)
from services.marketdata.domain.features.catalog import Engine, validate_definition
from services.marketdata.domain.features.definition import ENGINE_VERSION
from services.runtime.errors import InvalidArgument


def _kinds_with(kind: str) -> list[FeatureSpec]:
    return [s for s in DEFAULT_VIEW.features if s.kind == kind]


def _periods(kind: str) -> set[object]:
    return {s.params.get("period") for s in _kinds_with(kind)}


def test_default_view_has_the_issue_features() -> None:
    assert len(DEFAULT_VIEW.features) >= 30
    assert _periods("log_return") == {1, 5, 20}
    assert _periods("realized_vol") == {5, 20, 60}
    assert _kinds_with("sma_ratio") and _kinds_with("ema_ratio")
    assert _periods("rsi") == {14} and _periods("atr_ratio") == {14} and _periods("natr") == {14}
    for kind in ("macd_line", "macd_signal", "macd_hist"):
        assert [dict(s.params) for s in _kinds_with(kind)] == [
            {"fast": 12, "slow": 26, "signal": 9}
        ]
    for kind in ("bollinger_pctb", "bollinger_width"):
        assert [dict(s.params) for s in _kinds_with(kind)] == [{"period": 20, "nbdev": 2.0}]
    assert _periods("adx") == _periods("plus_di") == _periods("minus_di") == {14}
    assert _periods("cci") == {20} and _periods("roc") == {10} and _periods("mfi") == {14}
    assert _periods("cmf") == {20}
    for kind in (
        "stoch_k", "stoch_d", "willr", "momentum", "obv_flow", "aroon_up", "aroon_down", "trix",
        "donchian_position", "keltner_position", "volume_zscore", "candle_body",
        "candle_upper_shadow", "candle_lower_shadow",
    ):  # fmt: skip
        assert _kinds_with(kind), kind
    ranked = {str(s.params["source"]) for s in _kinds_with("cs_rank")}
    assert {DEFAULT_VIEW.spec(n).kind for n in ranked} == {"log_return", "realized_vol"}


def test_default_view_is_valid_and_already_normalized() -> None:
    assert validate_definition(DEFAULT_VIEW) == DEFAULT_VIEW
    assert len(set(DEFAULT_VIEW.feature_names)) == len(DEFAULT_VIEW.feature_names)


def test_hash_is_sha256_of_the_canonical_specs() -> None:
    payload = {
        "engine": ENGINE_VERSION,
        "features": [
            {"kind": s.kind, "name": s.name, "params": dict(sorted(s.params.items()))}
            for s in DEFAULT_VIEW.features
        ],
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert DEFAULT_VIEW.definition_hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_hash_ignores_parameter_order_number_spelling_name_and_description() -> None:
    a = define_view("a", [FeatureSpec("bb", "bollinger_pctb", {"period": 20, "nbdev": 2})])
    b = define_view(
        "b", [FeatureSpec("bb", "bollinger_pctb", {"nbdev": 2.0, "period": 20.0})], "other words"
    )
    assert a.definition_hash == b.definition_hash


def test_any_change_that_can_change_values_changes_the_hash() -> None:
    base = define_view("v", [FeatureSpec("rsi", "rsi", {"period": 14})])
    changed = [
        define_view("v", [FeatureSpec("rsi", "rsi", {"period": 10})]),
        define_view("v", [FeatureSpec("rsi_14", "rsi", {"period": 14})]),
        define_view("v", [FeatureSpec("rsi", "cci", {"period": 14})]),
        define_view(
            "v", [FeatureSpec("rsi", "rsi", {"period": 14}), FeatureSpec("gap", "gap", {})]
        ),
    ]
    hashes = {base.definition_hash, *(d.definition_hash for d in changed)}
    assert len(hashes) == 1 + len(changed)


def test_json_round_trip_keeps_the_definition_and_its_hash() -> None:
    again = FeatureViewDefinition.from_json(DEFAULT_VIEW.to_json())
    assert again == DEFAULT_VIEW
    assert again.definition_hash == DEFAULT_VIEW.definition_hash


@pytest.mark.parametrize(
    "text", ["", "{", "[]", '{"name": "x"}', '{"name": "x", "features": [{}]}']
)
def test_malformed_json_is_invalid_argument(text: str) -> None:
    with pytest.raises(InvalidArgument, match="definition"):
        FeatureViewDefinition.from_json(text)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([], "at least one feature"),
        ([FeatureSpec("x", "nope", {})], "unknown kind"),
        ([FeatureSpec("x", "rsi", {})], "missing: period"),
        ([FeatureSpec("x", "rsi", {"period": 14, "window": 3})], "unknown: window"),
        ([FeatureSpec("x", "rsi", {"period": 0})], r"\[1, 10000\]"),
        ([FeatureSpec("x", "rsi", {"period": 2.5})], "whole number"),
        ([FeatureSpec("x", "rsi", {"period": True})], "expected a number"),
        ([FeatureSpec("x", "rsi", {"period": "14"})], "expected a number"),
        ([FeatureSpec("x", "bollinger_pctb", {"period": 20, "nbdev": -1})], "positive"),
        ([FeatureSpec("x", "rsi", {"period": 1})], "TA-Lib refuses"),
        ([FeatureSpec("x", "gap", {}), FeatureSpec("x", "gap", {})], "appear twice"),
        ([FeatureSpec("X", "gap", {})], "not a valid name"),
        ([FeatureSpec("x; DROP TABLE bars", "gap", {})], "not a valid name"),
        ([FeatureSpec("r", "cs_rank", {"source": "missing"})], "not a feature of view"),
        (
            [
                FeatureSpec("g", "gap", {}),
                FeatureSpec("r", "cs_rank", {"source": "g"}),
                FeatureSpec("rr", "cs_rank", {"source": "r"}),
            ],
            "itself a rank",
        ),
    ],
)
def test_invalid_definitions_are_refused(specs: list[FeatureSpec], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        define_view("v", specs)


@pytest.mark.parametrize("name", ["", "1view", "View", "a-b", "x" * 64])
def test_view_names_are_identifiers(name: str) -> None:
    with pytest.raises(InvalidArgument, match="not a valid name"):
        define_view(name, [FeatureSpec("gap", "gap", {})])


@pytest.mark.parametrize("name", ["fwd_ret_1", "fwd_ret_5", "direction_1", "direction_20", "fwd_x"])
def test_label_names_can_never_be_features(name: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        define_view("v", [FeatureSpec(name, "log_return", {"period": 1})])
    assert caught.value.reason == "LABEL_NOT_A_FEATURE"


def test_every_kind_is_documented_and_has_an_engine() -> None:
    catalog = kinds()
    assert {k.engine for k in catalog.values()} == set(Engine)
    assert all(k.doc for k in catalog.values())
    assert {s.kind for s in DEFAULT_VIEW.features} <= set(catalog)
