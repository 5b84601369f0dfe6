"""Fitted regime models in the regime service's DuckDB: versions per name, and aliases.

Tables (times are naive UTC TIMESTAMPs):

    regime_models(name, version, fingerprint, fitted_at, data_watermark, body JSON,
                  PRIMARY KEY (name, version), UNIQUE (name, fingerprint))
    regime_aliases(name, alias, version, PRIMARY KEY (name, alias))

A fit on the same bars with the same window and settings has the same fingerprint and returns
the recorded version instead of adding one. Each record is one transaction with its alias.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from datetime import UTC, datetime

import duckdb

from services.regime.domain.model import FittedRegimes, RegimeModel
from services.runtime.errors import NotFound
from services.runtime.model_refs import ModelRef, check_alias, check_model_name
from services.runtime.time_convert import aware_utc, naive_utc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS regime_models (
    name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    fingerprint VARCHAR NOT NULL,
    fitted_at TIMESTAMP NOT NULL,
    data_watermark TIMESTAMP,
    body VARCHAR NOT NULL,
    PRIMARY KEY (name, version),
    UNIQUE (name, fingerprint)
);
CREATE TABLE IF NOT EXISTS regime_aliases (
    name VARCHAR NOT NULL,
    alias VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, alias)
);
"""


def fingerprint(fit: FittedRegimes) -> str:
    """Identity of a fit: its data, window, feature definition and settings."""
    key = "|".join(
        [
            fit.data_hash,
            fit.train_start.isoformat(),
            fit.train_end.isoformat(),
            fit.feature_version,
            repr(fit.switch_probability),
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:24]


class RegimeModelStore:
    """Versions and aliases; read from memory (this service is the only writer of its DuckDB),
    written through to DuckDB."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._db = connection.cursor()
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self._models: dict[tuple[str, int], RegimeModel] = {}
        self._fingerprints: dict[tuple[str, str], int] = {}
        self._aliases: dict[tuple[str, str], int] = {}
        for name, version, key, fitted_at, watermark, body in self._db.execute(
            "SELECT name, version, fingerprint, fitted_at, data_watermark, body FROM regime_models"
        ).fetchall():
            fit = RegimeModel.fit_from_json(body)
            self._models[(name, version)] = RegimeModel(
                name, version, fit, aware_utc(fitted_at), aware_utc(watermark)
            )
            self._fingerprints[(name, key)] = version
        for name, alias, version in self._db.execute(
            "SELECT name, alias, version FROM regime_aliases"
        ).fetchall():
            self._aliases[(name, alias)] = version

    def record(
        self,
        name: str,
        fit: FittedRegimes,
        data_watermark: datetime | None,
        alias: str,
    ) -> tuple[RegimeModel, bool]:
        """Record `fit` as the next version of `name` (or find the identical one) and point
        `alias` at it. Returns the model and whether it was created."""
        check_model_name(name, "name")
        check_alias(alias)
        key = fingerprint(fit)
        with self._lock:
            version = self._fingerprints.get((name, key))
            created = version is None
            model: RegimeModel | None = None
            if version is None:
                version = 1 + max((v for (n, v) in self._models if n == name), default=0)
                model = RegimeModel(name, version, fit, datetime.now(UTC), data_watermark)
            self._db.execute("BEGIN TRANSACTION")
            try:
                if model is not None:
                    self._db.execute(
                        "INSERT INTO regime_models VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            name,
                            version,
                            key,
                            naive_utc(model.fitted_at),
                            naive_utc(data_watermark),
                            model.to_json(),
                        ],
                    )
                self._db.execute(
                    "INSERT INTO regime_aliases VALUES (?, ?, ?) ON CONFLICT (name, alias) "
                    "DO UPDATE SET version = excluded.version",
                    [name, alias, version],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if model is not None:
                self._models[(name, version)] = model
                self._fingerprints[(name, key)] = version
            self._aliases[(name, alias)] = version
            return self._with_aliases(name, version), created

    def resolve(self, ref: ModelRef) -> RegimeModel:
        """The version `ref` names; NotFound for an unknown name, alias or version."""
        with self._lock:
            version = (
                ref.version
                if ref.version is not None
                else self._aliases.get((ref.name, ref.alias or ""))
            )
            if version is None or (ref.name, version) not in self._models:
                known = sorted({n for n, _ in self._models})
                raise NotFound(
                    f"regime model {ref} does not exist"
                    + (f" (models: {', '.join(known)})" if known else "")
                    + "; fit one with FitRegimeModel",
                    reason="MODEL_NOT_FOUND",
                    metadata={"model": str(ref)},
                )
            return self._with_aliases(ref.name, version)

    def list(self, name: str = "", offset: int = 0, limit: int = 50) -> list[RegimeModel]:
        """Versions, newest first."""
        with self._lock:
            keys = sorted(
                (k for k in self._models if not name or k[0] == name),
                key=lambda k: (self._models[k].fitted_at, k[1]),
                reverse=True,
            )
            return [self._with_aliases(n, v) for n, v in keys[offset : offset + limit]]

    def _with_aliases(self, name: str, version: int) -> RegimeModel:
        aliases = tuple(
            sorted(a for (n, a), v in self._aliases.items() if n == name and v == version)
        )
        return replace(self._models[(name, version)], aliases=aliases)
