"""refresh_from_db on a state-machine row is safe when several threads of one process do it
at once (gunicorn --threads), and keeps the state field protected (issue 13 item 1)."""

import threading

import pytest
from django.db import connection

from apps.leads.models import Lead, LeadStatus
from tests.leads.factories import LeadFactory

THREADS = 12
ROUNDS = 300


@pytest.mark.django_db(transaction=True)
def test_many_threads_refresh_state_machine_rows_at_once_without_an_error():
    leads = [LeadFactory() for _ in range(THREADS)]
    Lead.objects.update(status=LeadStatus.CONTACTED)  # what each refresh must bring back
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def refresh(lead):
        try:
            start.wait()
            for _ in range(ROUNDS):
                lead.refresh_from_db()
                assert lead.status == LeadStatus.CONTACTED
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=refresh, args=(lead,)) for lead in leads]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []


@pytest.mark.django_db
def test_the_state_field_stays_protected_after_a_refresh():
    lead = LeadFactory()
    lead.refresh_from_db()

    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        lead.status = LeadStatus.CONVERTED


@pytest.mark.django_db
def test_a_refresh_of_some_fields_brings_the_state_back_too():
    lead = LeadFactory(business_name="Before")
    Lead.objects.filter(pk=lead.pk).update(business_name="After", status=LeadStatus.LOST)

    lead.refresh_from_db(fields=["business_name"])

    assert lead.business_name == "After"
    assert lead.status == LeadStatus.LOST  # always fresh: a stale state would save wrong
