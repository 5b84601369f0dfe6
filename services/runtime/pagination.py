"""Opaque page tokens for List RPCs (AIP-158): keyset positions bound to the request's filters."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from services.runtime.errors import InvalidArgument


def clamp_page_size(requested: int, default: int, maximum: int) -> int:
    if requested < 0:
        raise InvalidArgument.for_field("page_size", "must be >= 0")
    return default if requested == 0 else min(requested, maximum)


def _fingerprint(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_page_token(position: Any, filters: dict[str, Any]) -> str:
    """Token for the page after `position`, valid only with the same `filters`."""
    body = json.dumps({"p": position, "f": _fingerprint(filters)}, default=str)
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_page_token(token: str, filters: dict[str, Any]) -> Any:
    """The position stored in `token`; None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, fingerprint = body["p"], body["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument.for_field(
            "page_token", "is not a token this service issued"
        ) from None
    if fingerprint != _fingerprint(filters):
        raise InvalidArgument.for_field(
            "page_token", "was issued for different filters; start again without a token"
        )
    return position
