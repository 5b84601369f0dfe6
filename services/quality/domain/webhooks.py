"""Webhook settings and the wire format: JSON bodies signed with HMAC-SHA256.

Each POST carries:
- `X-Quantmesh-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes with the secret>`
- `Idempotency-Key: <key>`: the same for every attempt of one event to one URL, so a receiver
  that sees an event twice (delivery is at least once) can drop the repeat
- `X-Quantmesh-Event-Id`, `X-Quantmesh-Delivery-Attempt` (1, 2, ...)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.quality.domain.events import DataQualityEvent
from services.quality.domain.findings import Severity
from services.runtime.errors import InvalidArgument

SIGNATURE_HEADER = "X-Quantmesh-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Quantmesh-Event-Id"
ATTEMPT_HEADER = "X-Quantmesh-Delivery-Attempt"
PAYLOAD_TYPE = "quantmesh.quality.event.v1"


def validate_url(url: str, field: str = "webhook_urls") -> str:
    """The URL if it is an absolute http(s) URL with a host, else InvalidArgument."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument.for_field(
            field, f"{url!r} is not an http(s) URL; webhooks are POSTed over HTTP"
        )
    return url.strip()


@dataclass(frozen=True)
class WebhookConfig:
    """Where HIGH and CRITICAL events go, the signing secret and the retry policy."""

    urls: tuple[str, ...]
    secret: str
    min_severity: Severity = Severity.HIGH
    timeout_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    max_attempts: int | None = None
    """None: retry until delivered (at least once); a number: give up (mark dead) after it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "urls", tuple(validate_url(u) for u in self.urls))
        if self.urls and not self.secret:
            raise InvalidArgument.for_field("webhook_secret", "is required to sign webhooks")
        if self.min_severity < Severity.LOW:
            raise InvalidArgument.for_field("min_severity", "must be LOW or above")
        if self.backoff_base_s <= 0 or self.backoff_cap_s < self.backoff_base_s:
            raise InvalidArgument.for_field("backoff", "needs 0 < base <= cap")

    @classmethod
    def of(cls, urls: Sequence[str], secret: str, **options: object) -> WebhookConfig:
        return cls(tuple(urls), secret, **options)  # type: ignore[arg-type]


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` is the signature of `body` (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header.strip())


def idempotency_key(event_id: str, url: str) -> str:
    """Stable per (event, URL)."""
    return hashlib.sha256(f"{event_id}\n{url}".encode()).hexdigest()[:32]


def payload(event: DataQualityEvent, key: str) -> str:
    """The JSON body for one event (fixed when enqueued, so every attempt sends the same bytes)."""
    return json.dumps(
        {"type": PAYLOAD_TYPE, "idempotency_key": key, "event": event.to_json()},
        sort_keys=True,
        separators=(",", ":"),
    )
