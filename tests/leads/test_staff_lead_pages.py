"""Staff lead pages: /staff/leads/ (search, filters, pages of 50) and /staff/leads/<id>/
(profile, scores with inputs, rule and why, override status, timeline, override form)."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.leads import services
from apps.leads.models import Cohort, LeadStatus
from apps.leads.scoring import FALLBACK_REASON
from apps.leads.views import FILTERS_INVALID
from apps.routing.services.claims import assignment_assign
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.leads.factories import LeadFactory
from tests.routing.factories import QueueAssignmentFactory

pytestmark = pytest.mark.django_db

LIST = reverse("leads:staff_lead_list")
REASON = "Regional chain: 14 stores in two states"


def detail_url(lead) -> str:
    return reverse("leads:staff_lead_detail", args=[lead.pk])


def override_url(lead) -> str:
    return reverse("leads:staff_lead_cohort_override", args=[lead.pk])


@pytest.fixture
def default_rules():
    call_command("seed_rules", verbosity=0)


@pytest.fixture
def lead(default_rules):
    return services.lead_profile(
        lead=LeadFactory(
            business_name="Copper Bistro",
            annual_revenue_estimate=Decimal("750000"),
            number_of_locations=3,
            business_category="restaurant",
        )
    )


# --- Who gets in ------------------------------------------------------------------------------

ROLES = [
    (AeUserFactory, 200),
    (IcUserFactory, 200),
    (OpsUserFactory, 200),
    (ComplianceUserFactory, 200),
    (MerchantUserFactory, 403),
    (UserFactory, 403),
]
ROLE_IDS = ["ae", "ic", "ops", "compliance", "merchant", "no-role"]


@pytest.mark.parametrize(("make_user", "expected"), ROLES, ids=ROLE_IDS)
def test_staff_roles_see_the_lead_list_and_others_do_not(client, make_user, expected):
    client.force_login(make_user())
    assert client.get(LIST).status_code == expected


@pytest.mark.parametrize(("make_user", "expected"), ROLES, ids=ROLE_IDS)
def test_staff_roles_see_a_lead_and_others_do_not(client, lead, make_user, expected):
    client.force_login(make_user())
    assert client.get(detail_url(lead)).status_code == expected


@pytest.mark.parametrize(
    ("make_user", "expected"),
    [
        (AeUserFactory, 302),
        (IcUserFactory, 403),
        (OpsUserFactory, 403),
        (ComplianceUserFactory, 403),
        (MerchantUserFactory, 403),
        (UserFactory, 403),
    ],
    ids=ROLE_IDS,
)
def test_only_an_ae_may_post_an_override(client, lead, make_user, expected):
    client.force_login(make_user())

    response = client.post(override_url(lead), {"cohort": "managed", "reason": REASON})

    assert response.status_code == expected
    lead.refresh_from_db()
    assert (lead.cohort == Cohort.MANAGED) is (expected == 302)


@pytest.mark.parametrize("url_of", [lambda lead: LIST, detail_url], ids=["list", "detail"])
def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(client, lead, url_of):
    url = url_of(lead)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={url}"


def test_an_anonymous_override_changes_nothing(client, lead):
    response = client.post(override_url(lead), {"cohort": "managed", "reason": REASON})

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.cohort == Cohort.ASSISTED


def test_an_unknown_lead_is_a_404(client, ae_user):
    client.force_login(ae_user)
    missing = "00000000-0000-0000-0000-000000000000"

    assert client.get(reverse("leads:staff_lead_detail", args=[missing])).status_code == 404
    override = reverse("leads:staff_lead_cohort_override", args=[missing])
    assert client.post(override, {"cohort": "managed", "reason": REASON}).status_code == 404


def test_the_override_is_a_post(client, ae_user, lead):
    client.force_login(ae_user)
    assert client.get(override_url(lead)).status_code == 405


# --- The list ---------------------------------------------------------------------------------


def test_the_list_searches_email_and_business_name(client, ic_user):
    bistro = LeadFactory(business_name="Copper Bistro", email="a@bistro.example")
    shop = LeadFactory(business_name="Maple Outfitters", email="owner@maple.example")
    client.force_login(ic_user)

    by_name = client.get(LIST, {"q": "copper"}).text
    by_email = client.get(LIST, {"q": "MAPLE.example"}).text

    assert f'id="lead-{bistro.pk}"' in by_name
    assert f'id="lead-{shop.pk}"' not in by_name
    assert f'id="lead-{shop.pk}"' in by_email
    assert f'id="lead-{bistro.pk}"' not in by_email


def test_the_search_is_served_by_the_trigram_indexes():
    """`icontains` compiles to UPPER(col::text) LIKE UPPER('%q%'); migration leads.0005 puts
    GIN trigram indexes on those very expressions (PostgreSQL matches an expression index
    only on the same expression). At 100k leads the planner then reads them (a BitmapOr of
    the two; README "Benchmarks"); a test table is too small for it to prefer them."""
    from apps.leads.selectors import lead_list

    sql, _ = lead_list(search="copper").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'leads_lead'"
            " AND indexname LIKE %s",
            ["%trgm"],
        )
        indexes = dict(cursor.fetchall())

    assert 'UPPER("leads_lead"."email"::text) LIKE UPPER(' in sql
    assert 'UPPER("leads_lead"."business_name"::text) LIKE UPPER(' in sql
    for name, column in [
        ("lead_email_trgm", "email"),
        ("lead_business_name_trgm", "business_name"),
    ]:
        assert (
            f"gin (upper(({column})::text) gin_trgm_ops) WHERE (deleted_at IS NULL)"
            in (indexes[name])
        )


def test_a_long_list_says_how_many_up_to_a_limit(client, ic_user, monkeypatch):
    from apps.leads import views

    LeadFactory.create_batch(3, business_name="Copper Bistro")
    monkeypatch.setattr(views, "COUNT_LIMIT", 2)
    monkeypatch.setattr(views, "SEARCH_COUNT_LIMIT", 5)
    client.force_login(ic_user)

    capped = client.get(LIST).text
    searched = client.get(LIST, {"q": "copper"}).text

    assert "2+ leads" in capped
    assert "search or filter to narrow the list" in capped
    assert "3 leads" in searched
    assert "narrow the list" not in searched


def test_the_list_filters_by_cohort_and_status(client, ic_user):
    managed = LeadFactory(cohort=Cohort.MANAGED)
    managed_lost = LeadFactory(cohort=Cohort.MANAGED, status=LeadStatus.LOST)
    assisted = LeadFactory(cohort=Cohort.ASSISTED)
    client.force_login(ic_user)

    page = client.get(LIST, {"cohort": "managed", "status": "new"}).text

    assert f'id="lead-{managed.pk}"' in page
    assert f'id="lead-{managed_lost.pk}"' not in page
    assert f'id="lead-{assisted.pk}"' not in page


def test_the_list_links_each_lead_to_its_page(client, ic_user, lead):
    client.force_login(ic_user)

    assert f'href="{detail_url(lead)}"' in client.get(LIST).text


@pytest.mark.parametrize(
    "query", [{"cohort": "enterprise"}, {"status": "zombie"}, {"page": "first"}, {"q": "q" * 300}]
)
def test_bad_filters_are_a_400_with_the_reason(client, ic_user, query):
    LeadFactory()
    client.force_login(ic_user)

    response = client.get(LIST, query)

    assert response.status_code == 400
    assert FILTERS_INVALID in response.text
    assert '<tr id="lead-' not in response.text


def test_the_list_shows_fifty_leads_a_page(client, ic_user):
    for _ in range(51):
        LeadFactory()
    client.force_login(ic_user)

    first = client.get(LIST).text
    second = client.get(LIST, {"page": 2}).text

    assert first.count('<tr id="lead-') == 50
    assert "Page 1 of 2" in first
    assert second.count('<tr id="lead-') == 1


def test_with_htmx_the_list_answers_with_its_results_only(client, ic_user, lead):
    client.force_login(ic_user)

    response = client.get(LIST, {"q": "copper"}, headers={"HX-Request": "true"})

    assert response.text.strip().startswith('<section id="lead-results"')
    assert "<html" not in response.text


def test_the_list_costs_the_same_queries_for_3_or_60_leads(client, ops_user):
    def queries():
        with CaptureQueriesContext(connection) as context:
            response = client.get(LIST)
        assert response.status_code == 200
        return len(context.captured_queries)

    ae = AeUserFactory()
    client.force_login(ops_user)
    for _ in range(3):
        LeadFactory(assigned_ae=ae, cohort=Cohort.ASSISTED)
    with_few = queries()
    for _ in range(57):
        LeadFactory(assigned_ae=ae, cohort=Cohort.MANAGED)
    assert queries() == with_few


# --- The detail page --------------------------------------------------------------------------


def test_the_page_shows_the_profile_scores_inputs_rule_and_why(client, ic_user, lead):
    client.force_login(ic_user)

    page = client.get(detail_url(lead)).text

    assert "Copper Bistro" in page
    assert "Assisted" in page
    assert "Assisted: GTV ≥ $500K or 2+ locations" in page  # the rule
    assert "GTV $750,000 ≥ $500,000" in page  # why
    assert "GTV score</strong>: 62.50" in page
    assert "Annual revenue $750,000 on a log scale" in page  # a score's input
    assert "3 location(s)" in page
    assert "Vertical: restaurant" in page
    assert "none: the rules decide" in page


def test_a_lead_matched_by_no_rule_shows_the_fallback(client, ic_user):
    lead = services.lead_profile(lead=LeadFactory())  # no rules seeded
    client.force_login(ic_user)

    page = client.get(detail_url(lead)).text

    assert "fallback: no rule matched" in page
    assert FALLBACK_REASON in page


def test_the_page_shows_an_override_with_who_and_why(client, ic_user, ae_user, lead):
    services.lead_cohort_override(lead=lead, cohort=Cohort.MANAGED, reason=REASON, actor=ae_user)
    client.force_login(ic_user)

    page = client.get(detail_url(lead)).text

    assert f"Overridden by {ae_user.email}" in page
    assert REASON in page


def test_the_timeline_tells_who_did_what_and_why(client, ic_user, ae_user, lead):
    services.lead_cohort_override(lead=lead, cohort=Cohort.MANAGED, reason=REASON, actor=ae_user)
    assignment = QueueAssignmentFactory(lead=lead)
    assignment_assign(assignment=assignment, agent=ae_user, actor=ae_user)
    client.force_login(ic_user)

    page = client.get(detail_url(lead)).text

    assert "Lead created" in page
    assert "lead_profile: profiled: cohort assisted" in page
    assert f"lead_cohort_override: assisted → managed: {REASON}" in page
    assert "cohort: Assisted → Managed" in page
    assert ae_user.email in page
    assert "Event lead.profiled" in page
    assert "Event lead.cohort_changed" in page
    assert f"{assignment.queue.queue_name}: assigned to {ae_user.email}" in page


def test_the_page_costs_the_same_queries_for_1_or_30_history_rows(client, ic_user, lead):
    def queries():
        with CaptureQueriesContext(connection) as context:
            response = client.get(detail_url(lead))
        assert response.status_code == 200
        return len(context.captured_queries)

    client.force_login(ic_user)
    assignment = QueueAssignmentFactory(lead=lead)
    with_one = queries()
    ae = AeUserFactory()
    for number in range(30):
        services.lead_update(
            lead=lead, actor=ae, reason=f"edit {number}", phone=f"+1 555 {number:04}"
        )
    assignment_assign(assignment=assignment, agent=ae, actor=ae)
    with_thirty = queries()

    assert lead.history.count() > 30
    assert with_thirty == with_one


# --- The override form ------------------------------------------------------------------------


def test_the_override_form_is_shown_to_aes_only(client, lead):
    client.force_login(AeUserFactory())
    assert 'id="override-form"' in client.get(detail_url(lead)).text

    for make_user in (IcUserFactory, OpsUserFactory, ComplianceUserFactory):
        client.force_login(make_user())
        assert 'id="override-form"' not in client.get(detail_url(lead)).text


def test_with_htmx_an_override_answers_with_the_cohort_panel(client, ae_user, lead):
    client.force_login(ae_user)

    response = client.post(
        override_url(lead),
        {"cohort": "managed", "reason": REASON},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response.text.strip().startswith('<article id="cohort-panel"')
    assert "<html" not in response.text
    assert "Cohort set to Managed." in response.text
    assert f"Overridden by {ae_user.email}" in response.text
    assert "leadChanged" in json.loads(response["HX-Trigger"])
    lead.refresh_from_db()
    assert lead.cohort == Cohort.MANAGED


def test_the_timeline_alone_is_served_for_its_refresh(client, ae_user, lead):
    client.force_login(ae_user)

    response = client.get(detail_url(lead), {"part": "timeline"}, headers={"HX-Request": "true"})

    assert response.text.strip().startswith('<section id="timeline"')


def test_without_javascript_an_override_redirects_back_with_a_message(client, ae_user, lead):
    client.force_login(ae_user)

    response = client.post(
        override_url(lead), {"cohort": "self_serve", "reason": REASON}, follow=True
    )

    assert response.redirect_chain == [(detail_url(lead), 302)]
    assert "Cohort set to Self-serve." in response.text
    lead.refresh_from_db()
    assert lead.cohort == Cohort.SELF_SERVE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cohort": "managed", "reason": "  "}, "This field is required."),
        ({"cohort": "enterprise", "reason": REASON}, "Select a valid choice."),
        ({"reason": REASON}, "This field is required."),
    ],
    ids=["blank-reason", "unknown-cohort", "no-cohort"],
)
def test_with_htmx_a_bad_override_is_a_422_form_and_changes_nothing(
    client, ae_user, lead, data, message
):
    client.force_login(ae_user)
    history_before = lead.history.count()

    response = client.post(override_url(lead), data, headers={"HX-Request": "true"})

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#override-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert response.text.strip().startswith('<form id="override-form"')
    assert message in response.text
    lead.refresh_from_db()
    assert lead.cohort == Cohort.ASSISTED
    assert lead.history.count() == history_before


def test_without_javascript_a_bad_override_shows_the_page_with_the_errors(client, ae_user, lead):
    client.force_login(ae_user)

    response = client.post(override_url(lead), {"cohort": "managed", "reason": ""})

    assert response.status_code == 422
    assert "<html" in response.text
    assert "This field is required." in response.text


def test_overriding_a_lost_lead_shows_why_it_was_refused(client, ae_user):
    lead = LeadFactory(status=LeadStatus.LOST)
    client.force_login(ae_user)

    response = client.post(
        override_url(lead), {"cohort": "managed", "reason": REASON}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 422
    assert services.OVERRIDE_CLOSED_LEAD.format(status="Lost") in response.text
    assert 'role="alert"' in response.text
