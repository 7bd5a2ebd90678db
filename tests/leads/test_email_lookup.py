"""Finding a lead by email uses the case-insensitive unique index on LOWER(email), so an
intake stays a keyed lookup at 100k leads instead of a table scan (issue 12)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.leads.models import Lead
from apps.leads.services import lead_capture
from tests.leads.factories import LeadFactory, capture_data

pytestmark = pytest.mark.django_db


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # what the planner does at volume
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_email_lookup_is_answered_by_the_lower_email_index():
    LeadFactory(email="ana@copper.example")

    plan = _plan(Lead.objects.filter(email__lower="ANA@Copper.example".lower()))

    assert "lead_email_ci_unique" in plan


def test_an_intake_finds_the_existing_lead_through_lower_not_upper():
    LeadFactory(email="ana@copperbistro.example")

    with CaptureQueriesContext(connection) as queries:
        _lead, created = lead_capture(data=capture_data(email="ANA@CopperBistro.example"))

    assert created is False
    wheres = [q["sql"].split(" WHERE ", 1)[-1] for q in queries.captured_queries]
    # Every lookup by email is indexed: LOWER(email) (the case-insensitive unique index) or
    # plain equality (the column's own unique index); UPPER(email) would scan the table.
    assert any('LOWER("leads_lead"."email") = ' in where for where in wheres)
    assert not any('UPPER("leads_lead"."email"' in where for where in wheres)
