"""PII helpers: the keyed hash kept beside an encrypted value that must stay unique, and
the masking every page uses after entry."""

import hashlib
import hmac

from django.conf import settings


def digits(value: str) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 of the value's digits under PII_HASH_KEY: equal inputs give equal hashes,
    so a unique index works, but the hash reveals nothing without the key."""
    return hmac.new(
        settings.PII_HASH_KEY.encode(), digits(value).encode(), hashlib.sha256
    ).hexdigest()


def mask(value, *, keep: int = 4) -> str:
    """'•••• 6789' for '123456789'; empty stays empty."""
    text = str(value or "")
    if not text:
        return ""
    tail = digits(text)[-keep:] or text[-keep:]
    return f"•••• {tail}"
