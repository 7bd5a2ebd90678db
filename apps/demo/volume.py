"""Volume data (`manage.py seed_volume`): a production-sized database to measure pages, sweeps
and queries against (issue 12), not a demo to click through.

Set-based: rows are built in memory as unsaved model instances, one chunk of leads at a time,
and each table is written with one COPY a chunk, followed by its simple-history "+" rows
(history user NULL, reason "seed_volume", dated at the row's created_at) in another COPY, so
the statement count depends on the number of chunks, never on the rows. Deterministic for a
given seed and `now` (primary keys included).

Runs once per database, on PostgreSQL only: leads under @volume.test mark a seeded database,
and the embedded SQLite database is refused so `make run`'s demo never gets 100,000 leads.
The rows respect every constraint and trigger: one primary location per merchant, ten
progress rows per merchant, unique emails, order and payment numbers, and hardware orders only
for merchants whose KYB is approved (the orders_kyb_gate trigger).
"""

import random
from collections import Counter
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, models, reset_queries, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import AE, IC
from apps.demo.context import REFERENCE_MISSING, ReferenceDataMissing
from apps.demo.reference import INTERVENTION_QUEUE
from apps.demo.volume_rows import (
    COHORTS,
    HARDWARE,
    TIERS,
    VOLUME_DOMAIN,
    Chunk,
    Ref,
    lead_build,
)
from apps.leads.models import Lead
from apps.merchants.models import Merchant, MerchantLocation
from apps.orders.models import Order, OrderItem, Payment, Product, TaxRate
from apps.progress.models import (
    JourneyStep,
    MerchantStepProgress,
    StallAlert,
    StallPolicy,
)
from apps.routing.models import CohortRule, QueueAssignment, RoutingQueue

REASON = "seed_volume"
SEED = 12

NOT_ON_SQLITE = (
    "seed_volume writes hundreds of thousands of rows and runs on PostgreSQL only: set "
    "DATABASE_URL to a throwaway PostgreSQL database (the embedded SQLite one is the demo's)."
)
ALREADY_SEEDED = (
    f"Volume data is already there (leads @{VOLUME_DOMAIN}); seed_volume runs once per "
    "database. To start again drop the database and make a new one: dropdb NAME && createdb "
    "NAME && manage.py migrate && manage.py seed_rules && manage.py seed_volume."
)


class VolumeRefused(Exception):
    pass


AGENTS = {AE: 12, IC: 6}


# --- Refusals and reference data -------------------------------------------------------------
def volume_refusal() -> str | None:
    """Why seed_volume must not run on this database, or None."""
    if connection.vendor != "postgresql":
        return NOT_ON_SQLITE
    if Lead.objects.filter(email__endswith=f"@{VOLUME_DOMAIN}").exists():
        return ALREADY_SEEDED
    return None


def _reference() -> Ref:
    """What seed_rules makes; ReferenceDataMissing (the demo's message) when it has not run."""
    steps = list(JourneyStep.objects.order_by("display_order"))
    queues = {queue.code: queue for queue in RoutingQueue.objects.all()}
    products = {product.sku: product for product in Product.objects.filter(is_active=True)}
    rules = {}
    for rule in CohortRule.objects.filter(is_active=True).order_by("-priority"):
        rules[rule.cohort] = rule  # the highest-priority rule of each cohort wins
    policies = {policy.cohort: policy for policy in StallPolicy.objects.all()}
    needed_queues = {"ae_high_priority", "ae_standard", "ic_onboarding", INTERVENTION_QUEUE}
    if (
        len(steps) != 10
        or not needed_queues <= set(queues)
        or not {*TIERS.values(), *HARDWARE} <= set(products)
        or set(rules) != set(COHORTS)
        or set(policies) != set(COHORTS)
    ):
        raise ReferenceDataMissing(REFERENCE_MISSING)
    tax_rates = dict(TaxRate.objects.filter(country="US").values_list("state", "rate"))
    return Ref(steps, queues, products, tax_rates, rules, policies)


# --- The run ---------------------------------------------------------------------------------

TABLES = [
    ("leads", Lead),
    ("merchants", Merchant),
    ("locations", MerchantLocation),
    ("progress", MerchantStepProgress),
    ("orders", Order),
    ("items", OrderItem),
    ("payments", Payment),
    ("assignments", QueueAssignment),
    ("alerts", StallAlert),
]


def volume_seed(
    *, leads: int, merchants: int, batch: int = 5000, seed: int = SEED, now: datetime | None = None
) -> Counter:
    """Create `leads` leads, `merchants` of them with an account, and everything hanging off
    them, in one transaction. Returns the rows made per table ("history" for all history rows).
    Raises VolumeRefused or ReferenceDataMissing before writing anything."""
    if merchants > leads:
        raise VolumeRefused("--merchants cannot exceed --leads: every merchant is a lead.")
    refusal = volume_refusal()
    if refusal:
        raise VolumeRefused(refusal)
    ref = _reference()
    now = now or timezone.now()
    rng = random.Random(seed)
    with_account = set(rng.sample(range(leads), merchants))
    counts = Counter()
    with transaction.atomic():
        ref.agents = agents_create(counts)
        for start in range(0, leads, batch):
            chunk = Chunk()
            for n in range(start, min(start + batch, leads)):
                lead_build(chunk, rng, ref, n, now, with_account=n in with_account)
            chunk_insert(chunk, now, counts)
            if settings.DEBUG:  # Django keeps every statement's SQL then: megabytes a chunk
                reset_queries()
    return counts


def agents_create(counts: Counter) -> dict[str, list[User]]:
    """A few AEs and ICs to hold the queue items; no usable password (nobody signs in)."""
    password = make_password(None)
    users = {
        role: [
            User(
                email=f"{role}{number}@{VOLUME_DOMAIN}",
                first_name=role.upper(),
                last_name=f"Volume {number}",
                is_staff=True,
                password=password,
            )
            for number in range(1, count + 1)
        ]
        for role, count in AGENTS.items()
    }
    User.objects.bulk_create([user for group in users.values() for user in group])
    groups = dict(Group.objects.filter(name__in=AGENTS).values_list("name", "id"))
    Membership = User.groups.through
    Membership.objects.bulk_create(
        Membership(user_id=user.id, group_id=groups[role])
        for role, group in users.items()
        for user in group
    )
    counts["users"] += sum(len(group) for group in users.values())
    return users


def chunk_insert(chunk: Chunk, now, counts: Counter) -> None:
    """Each table with one COPY, then its history rows with another (bulk_create spent most of
    the run preparing values one by one: about 7 minutes for 100,000 leads)."""
    for name, model in TABLES:
        rows = getattr(chunk, name)
        if not rows:
            continue
        for row in rows:
            row.updated_at = now  # what auto_now would have set
        _copy(model, rows)
        # The "+" row a save would have written, as old as the row itself; the history
        # table's extra columns are read from the throwaway instances like the others.
        for row in rows:
            row.history_date = row.created_at
            row.history_change_reason = REASON
            row.history_type = "+"
            row.history_user_id = None
        _copy(model.history.model, rows)
        counts[name] += len(rows)
        counts["history"] += len(rows)


# Field types whose Python value psycopg writes as it is; any other (JSON, encrypted) goes
# through the field's own get_db_prep_save, as bulk_create would.
PLAIN_FIELDS = {
    "BooleanField", "CharField", "DateTimeField", "DecimalField", "EmailField", "ForeignKey",
    "IntegerField", "OneToOneField", "PositiveIntegerField", "PositiveSmallIntegerField",
    "SlugField", "TextField", "URLField", "UUIDField",
}  # fmt: skip


def _copy(model, rows: list) -> None:
    """COPY `rows` into `model`'s table: every concrete column but a serial key (the history
    tables' history_id), each read from the row by its attribute name."""
    fields = [
        field
        for field in model._meta.concrete_fields
        if not isinstance(field, models.AutoField)  # BigAutoField is one too
    ]
    prepared = [field.get_internal_type() not in PLAIN_FIELDS for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = [getattr(row, field.attname) for field in fields]
            for index, field in enumerate(fields):
                if prepared[index]:
                    values[index] = field.get_db_prep_save(values[index], connection)
            copy.write_row(values)
