"""Database helpers shared by the set-based sweeps.

`jit_off()`: PostgreSQL compiles a statement to machine code (JIT) when its estimated cost is
high, which a sweep's one big finder query always is. Measured at 100k leads (issue 12): the
stall sweep's finder ran 0.8 s and spent 6.7 s more compiling itself. A sweep's transaction
turns JIT off for itself only (`SET LOCAL`); other databases need nothing.

`rows_insert(model, objs)` and `history_rows(model, objs, ...)`: the sweeps' INSERTs of many
rows (alerts, their history rows, outbox events) as one COPY on PostgreSQL. Django's
bulk_create spent ~2 ms of Python per row preparing each value for 18,000 rows at 100k leads;
COPY hands psycopg the values as they are."""

import time

from django.db import connections


def jit_off(using: str = "default") -> None:
    """Turn PostgreSQL's JIT off until the end of the current transaction (call it inside
    `transaction.atomic`). One statement on PostgreSQL; nothing elsewhere."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def _copy_columns(model) -> list:
    """The fields COPY writes: every concrete field but a database-numbered primary key."""
    return [
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and field.get_internal_type() in ("AutoField", "BigAutoField"))
    ]


def rows_insert(model, objs: list) -> list:
    """Insert unsaved instances of `model` as bulk_create does, faster for large sets: on
    PostgreSQL one COPY (psycopg sends the values as they are; Django prepares only JSON and
    auto_now fields), elsewhere bulk_create. Primary keys must be set in Python (UUID
    defaults) or numbered by the database (history rows). No signals, like bulk_create."""
    connection = connections["default"]
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return objs
    fields = _copy_columns(model)
    prepared = []
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            prepared.append(lambda obj, f=field: f.pre_save(obj, True))
        elif field.get_internal_type() == "JSONField":
            prepared.append(
                lambda obj, f=field: f.get_db_prep_save(getattr(obj, f.attname), connection)
            )
        else:
            prepared.append(lambda obj, name=field.attname: getattr(obj, name))
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"COPY {table} ({columns}) FROM STDIN"

    def copy_rows(sql, params, many, context):
        with context["cursor"].cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row([prepare(obj) for prepare in prepared])

    started = time.monotonic()
    with connection.cursor() as cursor:
        # Through Django's execute wrappers (connection.execute_wrapper sees it), the COPY
        # being the executor.
        cursor._execute_with_wrappers(sql, None, False, executor=copy_rows)
    if connection.queries_logged:  # the debug cursor logs execute() only: logged by hand
        elapsed = f"{time.monotonic() - started:.3f}"
        connection.queries_log.append({"sql": f"{sql} -- {len(objs)} rows", "time": elapsed})
    for obj in objs:
        obj._state.adding = False
        obj._state.db = "default"
    return objs


def history_rows(model, objs: list, *, history_type: str, when, default_reason: str = ""):
    """The simple-history rows of `objs` (unsaved), as bulk_history_create makes them: each
    object's `_history_user` and `_change_reason` (or `default_reason`), dated `when`."""
    history = model.history.model
    tracked = [field.attname for field in history.tracked_fields]
    rows = []
    for obj in objs:
        row = history(
            history_date=when,
            history_user_id=getattr(getattr(obj, "_history_user", None), "pk", None),
            history_change_reason=getattr(obj, "_change_reason", "") or default_reason,
            history_type=history_type,
            **{name: getattr(obj, name) for name in tracked},
        )
        rows.append(row)
    return rows
