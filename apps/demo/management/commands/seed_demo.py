import logging
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo.seed import (
    DEMO_PASSWORD,
    DEMO_USERS,
    ReferenceDataMissing,
    demo_leads,
    demo_seed,
)
from apps.integrations.models import IntegrationEvent
from apps.merchants.models import Merchant
from apps.progress.models import OPEN_ALERT_STATUSES, StallAlert
from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment

NOT_WITHOUT_DEBUG = (
    "seed_demo creates users (a superuser among them) with a published password, so it runs "
    "only with DEBUG on. Pass --allow-without-debug for a staging site."
)


class Command(BaseCommand):
    help = (
        "Create demo users for every role (password printed at the end) and 36 demo leads, "
        "about two thirds of them merchants spread over the ten steps, built through the "
        "services. Needs seed_rules first. Idempotent: users and leads are keyed by email and "
        "whatever exists is skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Run although DEBUG is off (a staging site): the demo users, a superuser "
            "among them, get a published password.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError(NOT_WITHOUT_DEBUG)
        events_before = IntegrationEvent.objects.count()
        # One "Enqueued" log line per outbox event would bury the summary.
        q_logger = logging.getLogger("django-q")
        level = q_logger.level
        q_logger.setLevel(logging.WARNING)
        try:
            report = demo_seed()
        except ReferenceDataMissing as exc:
            raise CommandError(str(exc)) from exc
        finally:
            q_logger.setLevel(level)
        statuses = Counter(report.user_status.values())
        self.stdout.write(
            f"Users: created {statuses['created']}, already there {statuses['exists']}"
        )
        self.stdout.write(
            f"Leads: created {len(report.created)}, already there {len(report.existing)} "
            f"(skipped), failed {len(report.failed)}"
        )
        for email, error in report.failed:
            self.stderr.write(f"  {email}: {error}")
        self._overview()
        events = IntegrationEvent.objects.count() - events_before
        self.stdout.write(f"  outbox events recorded (delivered by the qcluster): {events}")
        self._credentials(report)
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} demo leads failed and were rolled back (see above)."
            )

    def _overview(self):
        leads = demo_leads()
        cohorts = Counter(leads.values_list("cohort", flat=True))
        statuses = Counter(leads.values_list("status", flat=True))
        merchants = Merchant.objects.filter(lead__in=leads)
        steps = Counter(merchants.values_list("current_step", flat=True))
        journeys = Counter(merchants.values_list("journey_status", flat=True))
        open_items = Counter(
            QueueAssignment.objects.filter(status__in=OPEN_ASSIGNMENT_STATUSES).values_list(
                "queue__code", flat=True
            )
        )
        alerts = StallAlert.objects.filter(
            merchant__in=merchants, alert_status__in=OPEN_ALERT_STATUSES
        ).count()
        self.stdout.write(f"  cohorts: {_counts(cohorts)}")
        self.stdout.write(f"  lead statuses: {_counts(statuses)}")
        self.stdout.write(f"  merchants: {merchants.count()}; journeys: {_counts(journeys)}")
        self.stdout.write(f"  merchants by current step: {_counts(steps)}")
        self.stdout.write(f"  open queue items: {_counts(open_items)}; open alerts: {alerts}")

    def _credentials(self, report):
        rows = [("email", "role", "password", "staff", "this run")]
        for spec in DEMO_USERS:
            user = report.users[spec.email]
            role = "superuser" if user.is_superuser else spec.role
            status = report.user_status[spec.email]
            if status != "created":
                status = "already there, password not reset"
            staff = "yes" if user.is_staff else "no"
            rows.append((user.email, role, DEMO_PASSWORD, staff, status))
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        self.stdout.write("")
        self.stdout.write("Sign in with:")
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  " + "  ".join(cells).rstrip())


def _counts(counter: Counter) -> str:
    return ", ".join(f"{key}: {count}" for key, count in sorted(counter.items())) or "none"
