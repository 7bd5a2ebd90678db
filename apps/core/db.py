"""Database helpers shared by the set-based sweeps.

`jit_off()`: PostgreSQL compiles a statement to machine code (JIT) when its estimated cost is
high, which a sweep's one big finder query always is. Measured at 100k leads (issue 12): the
stall sweep's finder ran 0.8 s and spent 6.7 s more compiling itself. A sweep's transaction
turns JIT off for itself only (`SET LOCAL`); other databases need nothing."""

from django.db import connections


def jit_off(using: str = "default") -> None:
    """Turn PostgreSQL's JIT off until the end of the current transaction (call it inside
    `transaction.atomic`). One statement on PostgreSQL; nothing elsewhere."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
