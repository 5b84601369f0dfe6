"""Typed settings from environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.settings import (
    RuntimeSettings,
    SettingsError,
    load,
    reference,
    reference_markdown,
)


def test_defaults_apply_when_the_environment_is_empty() -> None:
    settings = load(RuntimeSettings, environ={})
    assert (settings.port, settings.address, settings.auth_tokens) == (50051, "127.0.0.1:50051", ())


def test_values_are_parsed_by_their_declared_type() -> None:
    settings = load(
        RuntimeSettings,
        environ={
            "QUANTMESH_PORT": "6000",
            "QUANTMESH_SHUTDOWN_GRACE_S": "2.5",
            "QUANTMESH_DATA_DIR": "/tmp/qm",
            "QUANTMESH_AUTH_TOKENS": "research=abc, risk=def",
            "QUANTMESH_TLS_CA": "",
        },
    )
    assert settings.port == 6000
    assert settings.shutdown_grace_s == 2.5
    assert settings.data_dir == Path("/tmp/qm")
    assert settings.team_tokens() == {"abc": "research", "def": "risk"}
    assert settings.tls_ca is None


def test_wrongly_typed_values_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="QUANTMESH_PORT"):
        load(RuntimeSettings, environ={"QUANTMESH_PORT": "fifty"})
    with pytest.raises(SettingsError, match="QUANTMESH_AUTH_TOKENS"):
        load(RuntimeSettings, environ={"QUANTMESH_AUTH_TOKENS": "no-equals-sign"}).team_tokens()


def test_overrides_win_over_the_environment() -> None:
    settings = load(RuntimeSettings, environ={"QUANTMESH_PORT": "6000"}, port=0)
    assert settings.port == 0


def test_per_service_addresses_override_the_mesh_address() -> None:
    settings = load(RuntimeSettings, environ={})
    environ = {"QUANTMESH_MARKETDATA_ADDRESS": "dns:///marketdata:50051"}
    assert settings.address_for("marketdata", environ) == "dns:///marketdata:50051"
    assert settings.address_for("signal", environ) == "127.0.0.1:50051"


def test_allow_lists_split_services_on_bars() -> None:
    settings = load(RuntimeSettings, environ={"QUANTMESH_AUTH_ALLOW": "risk=quality|forecast"})
    assert settings.team_allow() == {"risk": frozenset({"quality", "forecast"})}


def test_every_setting_is_documented() -> None:
    rows = reference(RuntimeSettings)
    assert all(var.startswith(("QUANTMESH_", "OTEL_")) and text for var, _, text in rows)
    assert "`QUANTMESH_PORT` | `50051`" in reference_markdown(RuntimeSettings)
