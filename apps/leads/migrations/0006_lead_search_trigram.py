"""Trigram indexes for the staff lead search (`/staff/leads/?q=`).

The search is `email__icontains` OR `business_name__icontains`, which Django compiles on
PostgreSQL to `UPPER(col::text) LIKE UPPER('%q%')`: a scan of every lead without an index on
those very expressions. pg_trgm's GIN operator class serves LIKE '%…%' on them.

PostgreSQL only: on SQLite (the embedded demo) this migration does nothing and the search
still works, unindexed. The indexes are not in the model's Meta on purpose: SQLite rebuilds
a table from its Meta on some changes and cannot create a GIN index."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

# (name, column). Written as SQL: Django 5.2 wraps OpClass(Upper(col)) of a GinIndex in
# parentheses that put the operator class inside the expression ("syntax error at
# gin_trgm_ops"). The expression must read exactly as icontains compiles it.
INDEXES = [("lead_email_trgm", "email"), ("lead_business_name_trgm", "business_name")]


class PostgresTrigramExtension(TrigramExtension):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        """Leave the extension: other indexes may use it."""


def indexes_add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "leads_lead" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops) WHERE "deleted_at" IS NULL'
        )


def indexes_remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("leads", "0005_retention_anonymised")]

    operations = [
        PostgresTrigramExtension(),
        migrations.RunPython(indexes_add, indexes_remove),
    ]
