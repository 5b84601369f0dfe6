"""Feature view definitions: named, declarative lists of feature specs with a stable hash.

A definition says *what* to compute (feature name, kind, parameters), never how. Its canonical
JSON (sorted keys, no whitespace) is hashed with SHA-256; the hash covers the feature specs and
`ENGINE_VERSION`, not the view's name or description, so any change that can change a value makes
a new hash, and nothing else does. Whether the kinds and parameters are valid is checked by
`catalog.validate_definition`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.runtime.errors import InvalidArgument

#: Bump when an implementation changes the values a definition produces: every hash changes.
ENGINE_VERSION = 1

#: A parameter value: a window length, a multiplier, or (for ranks) a feature name.
ParamValue = int | float | str

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def check_identifier(value: str, field_name: str) -> str:
    """`value` when it is a lower-case identifier (also a safe SQL column or table part)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidArgument.for_field(
            field_name,
            f"{value!r} is not a valid name (lower-case letters, digits and '_', starting "
            "with a letter, at most 63 characters)",
        )
    return value


@dataclass(frozen=True)
class FeatureSpec:
    """One output column: its `name`, the indicator `kind` and that kind's parameters."""

    name: str
    kind: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "params": dict(sorted(self.params.items()))}


@dataclass(frozen=True)
class FeatureViewDefinition:
    """A named list of feature specs; `definition_hash` identifies what it computes."""

    name: str
    features: tuple[FeatureSpec, ...]
    description: str = ""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.features)

    @property
    def definition_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the engine version and the feature specs."""
        payload = {"engine": ENGINE_VERSION, "features": [f.to_dict() for f in self.features]}
        return hashlib.sha256(_canonical(payload).encode()).hexdigest()

    def spec(self, name: str) -> FeatureSpec:
        for spec in self.features:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_json(self) -> str:
        """Canonical JSON of the whole definition (what the registry stores)."""
        return _canonical(
            {
                "name": self.name,
                "description": self.description,
                "engine": ENGINE_VERSION,
                "features": [f.to_dict() for f in self.features],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FeatureViewDefinition:
        """Parse `to_json` output (or a hand-written equivalent); InvalidArgument when malformed.

        The engine version is not read back: a definition always means what the running code
        computes, and its hash says which engine that is.
        """
        try:
            raw = json.loads(text)
            features = tuple(
                FeatureSpec(str(f["name"]), str(f["kind"]), dict(f.get("params") or {}))
                for f in raw["features"]
            )
            return cls(str(raw["name"]), features, str(raw.get("description", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument.for_field(
                "definition", f"is not a feature view definition in JSON: {exc}"
            ) from None


def _canonical(payload: object) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
