"""manage.py retention_run [--dry-run]: run the retention job now (README "Compliance")."""

from django.core.management.base import BaseCommand

from apps.compliance.retention import retention_run


class Command(BaseCommand):
    help = (
        "Anonymise closed leads and abandoned never-live merchants past their period, delete "
        "audit rows past seven years and old published outbox events, clear old webhook "
        "bodies. --dry-run only counts what it would do. Each run is recorded."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be done; change nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        run = retention_run(dry_run=dry_run, triggered_by="command")
        verb = "Would" if dry_run else "Did"
        self.stdout.write(f"{verb} (retention run {run.pk}, {run.started_at:%Y-%m-%d %H:%M %Z}):")
        for name, count in run.counts.items():
            self.stdout.write(f"  {name.replace('_', ' ')}: {count}")
