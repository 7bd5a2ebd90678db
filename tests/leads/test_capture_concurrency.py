"""Idempotent capture under concurrency: the same new lead sent several times at once (the
marketing system retrying, a double-clicked form) becomes one lead, on PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection

from apps.leads import services
from apps.leads.models import Lead
from tests.leads.factories import capture_data

CALLS = 6


@pytest.mark.django_db(transaction=True)
def test_simultaneous_captures_of_one_new_lead_make_one_lead():
    start = Barrier(CALLS)

    def capture(number):
        start.wait()
        try:
            lead, created = services.lead_capture(
                data=capture_data(external_lead_id="mkto-1", phone=f"+1 415 555 01{number:02}")
            )
            return lead.pk, created
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        results = list(pool.map(capture, range(CALLS)))

    assert Lead.objects.count() == 1
    assert {lead_id for lead_id, _created in results} == {Lead.objects.get().pk}
    assert sum(created for _lead_id, created in results) == 1
