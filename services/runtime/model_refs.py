"""References to registered models, as requests name them (contract: common/v1 ModelRef).

A model reference is `name@alias` (the version the alias points at, which moves on promotion)
or `name/<version>` (one fixed, immutable version). Aliases are `champion` (what serving uses)
and `challenger` (the candidate beside it). Shared by every service with a model registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quantmesh.common.v1 import model_ref_pb2

from services.runtime.errors import InvalidArgument

CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = (CHAMPION, CHALLENGER)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_model_name(name: str, field: str = "model") -> str:
    """The name when it is a valid registered-model name, else InvalidArgument."""
    if not _NAME.match(name):
        raise InvalidArgument.for_field(
            field,
            f"{name!r} is not a model name: 1-100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    return name


def check_alias(alias: str, field: str = "alias") -> str:
    """The alias when it is one of ALIASES, else InvalidArgument."""
    if alias not in ALIASES:
        raise InvalidArgument.for_field(
            field, f"{alias!r} is not an alias; use one of {', '.join(ALIASES)}"
        )
    return alias


@dataclass(frozen=True)
class ModelRef:
    """`name@alias` or `name/version`: exactly one of alias and version is set."""

    name: str
    alias: str | None = None
    version: int | None = None

    def __post_init__(self) -> None:
        check_model_name(self.name)
        if (self.alias is None) == (self.version is None):
            raise InvalidArgument.for_field("model", "give exactly one of an alias or a version")
        if self.alias is not None:
            check_alias(self.alias)
        if self.version is not None and self.version < 1:
            raise InvalidArgument.for_field("model", f"version {self.version} is not positive")

    @classmethod
    def parse(cls, text: str, field: str = "model") -> ModelRef:
        """`name@alias` or `name/<version>`; a bare name means `name@champion`."""
        text = text.strip()
        if "@" in text:
            name, _, alias = text.partition("@")
            check_model_name(name, field)
            return cls(name, alias=check_alias(alias, field))
        if "/" in text:
            name, _, version = text.partition("/")
            check_model_name(name, field)
            if not version.isdigit() or int(version) < 1:
                raise InvalidArgument.for_field(field, f"{version!r} is not a version number")
            return cls(name, version=int(version))
        return cls(check_model_name(text, field), alias=CHAMPION)

    @property
    def pinned(self) -> bool:
        """True for a fixed version (cacheable for good), False for an alias (it moves)."""
        return self.version is not None

    def __str__(self) -> str:
        return f"{self.name}@{self.alias}" if self.alias else f"{self.name}/{self.version}"


def ref_from_pb(message: model_ref_pb2.ModelRef, field: str = "model") -> ModelRef:
    """A request's model reference; neither alias nor version means `champion`."""
    if not message.name:
        raise InvalidArgument.for_field(f"{field}.name", "is required")
    selector = message.WhichOneof("selector")
    if selector == "version":
        return ModelRef(message.name, version=message.version)
    return ModelRef(message.name, alias=message.alias if selector == "alias" else CHAMPION)


def ref_to_pb(ref: ModelRef | str) -> model_ref_pb2.ModelRef:
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    if ref.version is not None:
        return model_ref_pb2.ModelRef(name=ref.name, version=ref.version)
    return model_ref_pb2.ModelRef(name=ref.name, alias=ref.alias or CHAMPION)
