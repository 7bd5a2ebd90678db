"""On PostgreSQL a trigger refuses every UPDATE and DELETE of the audit rows (data access
log and KYB/KYC decisions), whoever sends them: the ORM guard of AppendOnlyModel covers the
application, this covers raw SQL too. The one exception is the retention job, which deletes
rows past their retention period in a transaction where it has run
`SET LOCAL compliance.retention_job = 'on'` (apps/compliance/retention.py)."""

from django.db import migrations

TABLES = ("compliance_dataaccessauditlog", "compliance_kybkycauditlog")

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION compliance_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('compliance.retention_job', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'Audit rows are append-only: %% on %% refused.', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
CREATE_TRIGGER = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION compliance_audit_append_only();
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
DROP_FUNCTION = "DROP FUNCTION IF EXISTS compliance_audit_append_only();"


def _postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def trigger_create(apps, schema_editor):
    if not _postgresql(schema_editor):
        return
    schema_editor.execute(CREATE_FUNCTION)
    for table in TABLES:
        schema_editor.execute(DROP_TRIGGER.format(table=table))
        schema_editor.execute(CREATE_TRIGGER.format(table=table))


def trigger_drop(apps, schema_editor):
    if not _postgresql(schema_editor):
        return
    for table in TABLES:
        schema_editor.execute(DROP_TRIGGER.format(table=table))
    schema_editor.execute(DROP_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_data_access_merchant_alerts_retention_runs")]

    operations = [migrations.RunPython(trigger_create, trigger_drop)]
