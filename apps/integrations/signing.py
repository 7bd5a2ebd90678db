"""Webhook signatures: HMAC-SHA256 over "<unix timestamp>.<raw body>" with the provider's
shared secret, sent as `X-Signature: t=<timestamp>,v1=<hex digest>`.

The timestamp is inside the signed text, so an old request replayed later fails the
tolerance check even with a valid signature.
"""

import hashlib
import hmac
import time

from django.conf import settings

HEADER = "X-Signature"
META_KEY = "HTTP_X_SIGNATURE"


class SignatureError(Exception):
    """Missing, malformed, wrong or expired signature (answered with 401)."""


def secret_for(provider: str) -> str:
    secrets = settings.WEBHOOK_SECRETS
    if provider not in secrets:
        raise SignatureError(f"Unknown webhook provider “{provider}”.")
    return secrets[provider]


def sign(provider: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value a provider sends with `body`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret_for(provider).encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(provider: str, body: bytes, header: str | None, *, now: float | None = None) -> None:
    """Raise SignatureError unless `header` signs `body` for `provider` within tolerance."""
    if not header:
        raise SignatureError("Missing signature header.")
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        received = parts["v1"]
    except (KeyError, ValueError) as exc:
        raise SignatureError("Malformed signature header.") from exc
    now = time.time() if now is None else now
    if abs(now - min(timestamp, 2**62)) > settings.WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureError("Signature timestamp outside the allowed window.")
    expected = sign(provider, body, timestamp=timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, received):
        raise SignatureError("Signature does not match.")
