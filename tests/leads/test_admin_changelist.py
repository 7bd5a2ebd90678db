"""The admin lead list stays keyed at volume (issue 12): no DISTINCT scan for its filters or
date bar, and the same number of queries whatever the number of leads."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:leads_lead_changelist")


def _queries(client, url=CHANGELIST) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_lead_changelist_reads_no_distinct_values_and_stays_flat(admin_client):
    LeadFactory.create_batch(3)
    few = _queries(admin_client)
    LeadFactory.create_batch(60)
    many = _queries(admin_client)

    assert not [sql for sql in many if "DISTINCT" in sql]
    assert len(many) == len(few)


def test_the_source_filter_offers_the_spec_sources_and_filters(admin_client):
    LeadFactory(source="paid", business_name="Paid Bistro")
    LeadFactory(source="organic", business_name="Organic Bakery")

    page = admin_client.get(CHANGELIST, {"source": "paid"}).text

    assert "Paid Bistro" in page
    assert "Organic Bakery" not in page
    assert "account signup" in page  # offered even before any lead has it
