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
from operator import attrgetter, itemgetter

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


def _defaults(model) -> list[tuple[str, object]]:
    """(attname, default) of each column COPY writes; a callable default is called per row."""
    out = []
    for field in _copy_columns(model):
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            out.append((field.attname, _NOW))
        elif field.has_default():
            out.append((field.attname, field.default))
        else:  # what Django gives a field without a default: "" for text, else None
            out.append((field.attname, field.get_default()))
    return out


_NOW = object()


def row_values(model, *, now, **values) -> dict:
    """One row of `model` as a dict of column values ({attname: value}), for rows_insert:
    `values`, and for every other column its default (called when callable: a UUID), `now`
    for auto_now fields, "" or None without a default. Cheaper than an instance (no Model.__init__,
    ~25 us a row) for the sweeps' thousands of rows; `_change_reason` and `_history_user`
    may ride along for history_rows."""
    row = dict(values)
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        defaults = _DEFAULTS[model] = _defaults(model)
    for name, default in defaults:
        if name in row:
            continue
        if default is _NOW:
            row[name] = now
        else:
            row[name] = default() if callable(default) else default
    return row


_DEFAULTS: dict = {}


def rows_insert(model, objs: list) -> list:
    """Insert unsaved rows of `model`, instances or row_values dicts, as bulk_create does,
    faster for large sets: on PostgreSQL one COPY (psycopg sends the values as they are;
    Django prepares only JSON fields, and auto_now fields of instances), elsewhere
    bulk_create. Primary keys must be set in Python (UUID defaults) or numbered by the
    database (history rows). No signals, like bulk_create."""
    connection = connections["default"]
    if not objs:
        return objs
    as_dicts = isinstance(objs[0], dict)
    if connection.vendor != "postgresql":
        if as_dicts:
            instances = [
                model(**{k: v for k, v in row.items() if not k.startswith("_")}) for row in objs
            ]
            model.objects.bulk_create(instances)
        else:
            model.objects.bulk_create(objs)
        return objs
    # Most values go as they are, read with one attrgetter/itemgetter call per row (C, not a
    # Python function per value); JSON fields (and auto_now fields of instances) are prepared
    # apart, in columns after them.
    value_of = itemgetter if as_dicts else attrgetter
    plain, prepared = [], []
    for field in _copy_columns(model):
        auto_now = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        if auto_now and not as_dicts:
            prepared.append((field, lambda obj, f=field: f.pre_save(obj, True)))
        elif field.get_internal_type() == "JSONField":
            get = value_of(field.attname)
            prepared.append(
                (field, lambda obj, f=field, get=get: f.get_db_prep_save(get(obj), connection))
            )
        else:
            plain.append(field)
    getter = value_of(*(field.attname for field in plain))
    read = getter if len(plain) > 1 else (lambda obj: (getter(obj),))
    prepares = [prepare for _field, prepare in prepared]
    fields = plain + [field for field, _prepare in prepared]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"COPY {table} ({columns}) FROM STDIN"

    def copy_rows(sql, params, many, context):
        with context["cursor"].cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row([*read(obj), *(prepare(obj) for prepare in prepares)])

    started = time.monotonic()
    with connection.cursor() as cursor:
        # Through Django's execute wrappers (connection.execute_wrapper sees it), the COPY
        # being the executor.
        cursor._execute_with_wrappers(sql, None, False, executor=copy_rows)
    if connection.queries_logged:  # the debug cursor logs execute() only: logged by hand
        elapsed = f"{time.monotonic() - started:.3f}"
        connection.queries_log.append({"sql": f"{sql} -- {len(objs)} rows", "time": elapsed})
    if not as_dicts:
        for obj in objs:
            obj._state.adding = False
            obj._state.db = "default"
    return objs


def history_rows(model, objs: list, *, history_type: str, when, default_reason: str = ""):
    """The simple-history rows of `objs` (unsaved instances, or row_values dicts), as
    bulk_history_create makes them, as row_values dicts for rows_insert: each object's
    `_history_user` and `_change_reason` (or `default_reason`), dated `when`."""
    history = model.history.model
    tracked = [field.attname for field in history.tracked_fields]
    rows = []
    for obj in objs:
        if isinstance(obj, dict):
            values = {name: obj[name] for name in tracked}
            user, reason = obj.get("_history_user"), obj.get("_change_reason")
        else:
            values = {name: getattr(obj, name) for name in tracked}
            user = getattr(obj, "_history_user", None)
            reason = getattr(obj, "_change_reason", "")
        values.update(
            history_date=when,
            history_user_id=getattr(user, "pk", None),
            history_change_reason=reason or default_reason,
            history_type=history_type,
        )
        rows.append(values)
    return rows


def history_insert(model, objs: list, *, history_type: str, when, default_reason: str = ""):
    """Write the simple-history rows of `objs` (instances or row_values dicts, already
    written in this transaction), who and why as history_rows gives them. On PostgreSQL one
    INSERT … SELECT from the model's own table: each row's values as stored, only the ids,
    reasons and users sent (no Python per value; issue 12, the sweeps). Elsewhere
    history_rows and rows_insert."""
    if not objs:
        return
    connection = connections["default"]
    if connection.vendor != "postgresql":
        rows = history_rows(
            model, objs, history_type=history_type, when=when, default_reason=default_reason
        )
        rows_insert(model.history.model, rows)
        return
    ids, reasons, users = [], [], []
    for obj in objs:
        if isinstance(obj, dict):
            pk, user, reason = obj["id"], obj.get("_history_user"), obj.get("_change_reason")
        else:
            pk = obj.pk
            user = getattr(obj, "_history_user", None)
            reason = getattr(obj, "_change_reason", "")
        ids.append(pk)
        reasons.append(reason or default_reason)
        users.append(getattr(user, "pk", None))
    history = model.history.model
    quote = connection.ops.quote_name
    columns = [quote(field.column) for field in history.tracked_fields]
    user_type = history._meta.get_field("history_user").target_field.db_type(connection)
    sql = (
        f"INSERT INTO {quote(history._meta.db_table)} ({', '.join(columns)}, "
        '"history_date", "history_change_reason", "history_type", "history_user_id") '
        f"SELECT {', '.join(f't.{column}' for column in columns)}, %s, r.reason, %s, r.user_id "
        f"FROM unnest(%s::{model._meta.pk.db_type(connection)}[], %s::text[], "
        f"%s::{user_type}[]) AS r(id, reason, user_id) "
        f"JOIN {quote(model._meta.db_table)} t ON t.{quote(model._meta.pk.column)} = r.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [when, history_type, ids, reasons, users])
