"""RegimeModelStore: versions per name, identical fits deduplicated, aliases, restarts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from services.regime.domain.model import DailySeries, FitSettings, fit_regimes
from services.regime.domain.model_store import RegimeModelStore
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.model_refs import ModelRef


def test_versions_aliases_and_dedupe_survive_a_restart(dji: DailySeries, tmp_path: Path) -> None:
    path = str(tmp_path / "regime.duckdb")
    store = RegimeModelStore(duckdb.connect(path))
    first = fit_regimes([dji], None, None)
    model, created = store.record("market", first, None, "champion")
    assert (model.version, created, model.aliases) == (1, True, ("champion",))
    again, created = store.record("market", first, None, "champion")
    assert (again.version, created) == (1, False)
    other = fit_regimes([dji], None, None, FitSettings(switch_probability=0.9))
    second, created = store.record("market", other, None, "challenger")
    assert (second.version, created) == (2, True)

    reopened = RegimeModelStore(duckdb.connect(path))
    assert reopened.resolve(ModelRef("market", alias="champion")).version == 1
    assert reopened.resolve(ModelRef("market", version=2)).aliases == ("challenger",)
    assert [m.version for m in reopened.list("market")] == [2, 1]


def test_unknown_models_and_bad_names_are_refused(dji: DailySeries, tmp_path: Path) -> None:
    store = RegimeModelStore(duckdb.connect(str(tmp_path / "r.duckdb")))
    with pytest.raises(NotFound, match="FitRegimeModel"):
        store.resolve(ModelRef("market", version=3))
    with pytest.raises(InvalidArgument, match="name"):
        store.record("bad name!", fit_regimes([dji], None, None), None, "champion")
