"""The keyed hash (HMAC-SHA256 under settings.PII_HASH_KEY) that stays behind when personal
data is anonymised, so a returning person is still recognised without keeping who they
were: `email_hash` in Python (intake looks a new address up with it), `KeyedHash` as a
database expression (the retention job hashes every row in one UPDATE).

The SQL form is HMAC written out with sha256() (PostgreSQL 11+, no extension needed):
HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), the two padded keys computed here and sent
as parameters. On SQLite (development) the same function is registered on each connection.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import models

_BLOCK = 64  # SHA-256 block size in bytes
SQLITE_FUNCTION = "keyed_hash"


def normalise_email(value: str) -> str:
    return (value or "").strip().lower()


def _key() -> bytes:
    key = settings.PII_HASH_KEY.encode()
    return hashlib.sha256(key).digest() if len(key) > _BLOCK else key


def text_hash(value: str) -> str:
    return hmac.new(_key(), (value or "").encode(), hashlib.sha256).hexdigest()


def email_hash(value: str) -> str:
    """The hash of an address as intake and retention both see it (trimmed, lower case)."""
    return text_hash(normalise_email(value))


def _pads() -> tuple[bytes, bytes]:
    key = _key().ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


class KeyedHash(models.Func):
    """text_hash(lower(trim(expression))) computed by the database, for set-based writes."""

    output_field = models.CharField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        inner, outer = _pads()
        return (
            "encode(sha256(%s::bytea || sha256(%s::bytea || "
            f"convert_to(lower(btrim({sql})), 'UTF8'))), 'hex')",
            [outer, inner, *params],
        )

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"{SQLITE_FUNCTION}(lower(trim({sql})))", params

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError("KeyedHash runs on PostgreSQL or SQLite.")


def sqlite_function_register(sender, connection, **kwargs) -> None:
    """connection_created receiver: SQLite learns keyed_hash(text) (apps.core.apps)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_FUNCTION,
            1,
            lambda value: None if value is None else text_hash(value),
            deterministic=True,
        )
