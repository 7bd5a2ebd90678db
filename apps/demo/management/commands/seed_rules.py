from django.core.management.base import BaseCommand

from apps.demo.reference import reference_data_seed


class Command(BaseCommand):
    help = (
        "Seed the reference data: the ten journey steps, cohort rules, routing queues, stall "
        "policies, product catalog, US state tax rates, django-q2 schedules and role groups. "
        "Idempotent: a second run writes nothing. This command is the source of the seeded "
        "rows: a re-run resets any of them edited since (e.g. a queue's SLA changed in the "
        "admin) to the seeded values. Rows it does not seed are left alone."
    )

    def handle(self, *args, **options):
        tallies = reference_data_seed()
        width = max(len(label) for label in tallies)
        for label, tally in tallies.items():
            self.stdout.write(f"{label:<{width}}  {tally}")
            for note in tally.notes:
                self.stdout.write(f"{'':<{width}}  {note}")
        self.stdout.write(self.style.SUCCESS("Reference data is up to date."))
