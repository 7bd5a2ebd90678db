import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from apps.demo.context import ReferenceDataMissing
from apps.demo.volume import VolumeRefused, volume_seed

# What the summary calls each table the run fills, in the order it fills them.
LABELS = [
    ("users", "staff users (AEs, ICs)"),
    ("leads", "leads"),
    ("merchants", "merchants"),
    ("locations", "merchant locations"),
    ("progress", "step progress rows"),
    ("orders", "orders"),
    ("items", "order items"),
    ("payments", "payments"),
    ("assignments", "queue items"),
    ("alerts", "stall alerts"),
    ("history", "history rows"),
]


class Command(BaseCommand):
    help = (
        "Fill a throwaway PostgreSQL database with production-sized data for benchmarks: "
        "leads, merchants with their ten progress rows, orders, payments, queue items, stall "
        "alerts and their history rows. Needs seed_rules first; runs once per database and "
        "never on SQLite."
    )

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=100_000)
        parser.add_argument(
            "--merchants", type=int, default=50_000, help="How many of the leads have an account."
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=5000,
            help="Leads built and written per chunk (one COPY per table and chunk).",
        )
        parser.add_argument("--seed", type=int, default=12, help="Random seed (deterministic).")

    def handle(self, *args, **options):
        started = time.monotonic()
        try:
            counts = volume_seed(
                leads=options["leads"],
                merchants=options["merchants"],
                batch=options["batch"],
                seed=options["seed"],
            )
        except (VolumeRefused, ReferenceDataMissing) as exc:
            raise CommandError(str(exc)) from exc
        for key, label in LABELS:
            self.stdout.write(f"{label}: {counts[key]:,}")
        # Fresh planner statistics: without them the first queries against a just-filled
        # database plan nested loops over 100k rows (autovacuum gets there only later).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(f"seed_volume took {time.monotonic() - started:.1f} s")
