"""Rule 1 in the database: an order with hardware cannot move to payment_pending or any later
status while its merchant's KYB is not approved. The services and the FSM guard refuse it
first, with the domain's message; this trigger catches every other writer (raw SQL, a bulk
update, a bug). PostgreSQL only: on SQLite (the embedded development database) it is skipped.
The error is a check_violation (SQLSTATE 23514), which Django raises as IntegrityError."""

from django.db import migrations

GATED_STATUSES = (
    "payment_pending",
    "paid",
    "hardware_ordered",
    "shipped",
    "delivered",
    "activated",
)

CREATE = f"""
CREATE OR REPLACE FUNCTION orders_kyb_gate() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ({", ".join(f"'{status}'" for status in GATED_STATUSES)})
       AND (TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status
            OR NEW.merchant_id IS DISTINCT FROM OLD.merchant_id)
       AND EXISTS (
           SELECT 1 FROM orders_orderitem
           WHERE order_id = NEW.id AND item_type = 'hardware'
       )
       AND NOT EXISTS (
           SELECT 1 FROM merchants_merchant
           WHERE id = NEW.merchant_id AND kyb_status = 'approved'
       )
    THEN
        RAISE EXCEPTION 'kyb_gate: order % has hardware and its merchant''s KYB is not approved',
            NEW.order_number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_kyb_gate';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS orders_kyb_gate ON orders_order;
CREATE TRIGGER orders_kyb_gate
    BEFORE INSERT OR UPDATE OF status, merchant_id ON orders_order
    FOR EACH ROW EXECUTE FUNCTION orders_kyb_gate();
"""

DROP = """
DROP TRIGGER IF EXISTS orders_kyb_gate ON orders_order;
DROP FUNCTION IF EXISTS orders_kyb_gate();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_saga_steps"),
        ("merchants", "0002_history_reason_text"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
