"""/staff/alerts/: ICs, AEs and ops work the open alerts: filter, claim, note, resolve with
what was done, dismiss with a reason. Refusals are shown on the alert (422 with htmx, a
message without JavaScript) and change nothing; the page costs the same queries for 3 or 40
alerts."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.leads.models import Cohort
from apps.progress import views
from apps.progress.models import AlertStatus, AlertType, Severity, StallAlert
from apps.progress.services import (
    ACTION_REQUIRED,
    ALERT_HELD_BY_OTHER,
    NOTE_ON_CLOSED_ALERT,
    NOTE_REQUIRED,
    REASON_REQUIRED,
    alert_claim,
)
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.leads.factories import LeadFactory
from tests.merchants.factories import MerchantFactory
from tests.progress.factories import StallAlertFactory

pytestmark = pytest.mark.django_db

INBOX = reverse("progress:alert_inbox")
HTMX = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{INBOX}"}
HTMX_LIST = {**HTMX, "HX-Target": views.LIST_TARGET}


def url(name: str, alert) -> str:
    return reverse(f"progress:alert_{name}", args=[alert.pk])


def alert_for(cohort=Cohort.SELF_SERVE, **fields):
    merchant = MerchantFactory(cohort=cohort, current_step=3, lead__cohort=cohort)
    return StallAlertFactory(merchant=merchant, **fields)


def card(response, alert) -> str:
    text = response.text
    start = text.index(f'<article id="alert-{alert.pk}"')
    return text[start : text.index("</article>", start)]


def flashed(response) -> list[str]:
    return [message.message for message in get_messages(response.wsgi_request)]


# --- who gets in ------------------------------------------------------------------------------

ROLES = [
    (MerchantUserFactory, 403),
    (ComplianceUserFactory, 403),
    (UserFactory, 403),
    (IcUserFactory, 200),
    (AeUserFactory, 200),
    (OpsUserFactory, 200),
    (lambda: UserFactory(is_superuser=True, is_staff=True), 200),
]
ROLE_IDS = ["merchant", "compliance", "no-role", "ic", "ae", "ops", "superuser"]


@pytest.mark.parametrize(("make_user", "expected"), ROLES, ids=ROLE_IDS)
def test_ics_aes_and_ops_see_the_inbox_and_nobody_else(client, make_user, expected):
    client.force_login(make_user())
    assert client.get(INBOX).status_code == expected


@pytest.mark.parametrize(("make_user", "expected"), ROLES, ids=ROLE_IDS)
@pytest.mark.parametrize("action", ["claim", "note", "resolve", "dismiss"])
def test_only_those_roles_may_act_on_an_alert(client, make_user, expected, action):
    alert = alert_for()
    client.force_login(make_user())

    response = client.post(url(action, alert), {"body": "x", "action": "x", "reason": "x"})

    if expected == 403:
        assert response.status_code == 403
        alert.refresh_from_db()
        assert alert.alert_status == AlertStatus.OPEN
        assert alert.notes == []
    else:
        assert response.status_code == 302


def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(client):
    response = client.get(INBOX)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={INBOX}"


def test_an_anonymous_htmx_action_sends_the_window_to_sign_in(client):
    alert = alert_for()

    response = client.post(url("claim", alert), headers=HTMX)

    assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next={INBOX}"
    alert.refresh_from_db()
    assert alert.alert_status == AlertStatus.OPEN


def test_actions_answer_only_post(client, ic_user):
    client.force_login(ic_user)
    assert client.get(url("claim", alert_for())).status_code == 405


def test_an_unknown_alert_is_404(client, ic_user):
    client.force_login(ic_user)
    missing = StallAlert(pk="00000000-0000-0000-0000-000000000000")
    assert client.post(url("claim", missing)).status_code == 404


# --- what it lists ----------------------------------------------------------------------------


def test_open_alerts_are_listed_most_severe_first_then_oldest(client, ic_user):
    now = timezone.now()
    old_high = alert_for(severity=Severity.HIGH, stall_detected_at=now - timedelta(days=2))
    new_high = alert_for(severity=Severity.HIGH, stall_detected_at=now)
    critical = alert_for(severity=Severity.CRITICAL, stall_detected_at=now)
    low = alert_for(severity=Severity.LOW, stall_detected_at=now - timedelta(days=9))
    claimed = alert_for(alert_status=AlertStatus.ASSIGNED, assigned_to=IcUserFactory())
    resolved = alert_for(alert_status=AlertStatus.RESOLVED)
    dismissed = alert_for(alert_status=AlertStatus.DISMISSED)
    client.force_login(ic_user)

    page = client.get(INBOX).text

    order = [critical, old_high, new_high, claimed, low]
    positions = [page.index(f'id="alert-{alert.pk}"') for alert in order]
    assert positions == sorted(positions)
    assert f"alert-{resolved.pk}" not in page
    assert f"alert-{dismissed.pk}" not in page
    assert "5 open alerts." in page


def test_an_alert_shows_what_a_person_needs_to_act(client, ic_user):
    alert = alert_for(
        cohort=Cohort.ASSISTED,
        alert_type=AlertType.ERROR_THRESHOLD,
        error_count=4,
        notes=[{"at": "2026-03-02T12:00:00+00:00", "author": "ae@x.example", "body": "Called"}],
    )
    client.force_login(ic_user)

    text = card(client.get(INBOX), alert)

    hub = reverse("staff:merchant", args=[alert.merchant.pk])
    assert f'Repeated errors: <a href="{hub}">{alert.merchant.legal_business_name}</a>' in text
    assert "Assisted" in text
    assert f'<a href="{hub}#step-3">3. Qualify for LS Payments (KYB)</a>' in text
    assert "<td>4</td>" in text
    assert "ae@x.example" in text and "Called" in text
    assert ">Claim</button>" in text


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ({"severity": "critical"}, {"critical_self_serve"}),
        ({"alert_type": "abandoned"}, {"abandoned_managed"}),
        ({"cohort": "managed"}, {"abandoned_managed", "lead_only_managed"}),
        ({"cohort": "self_serve", "severity": "low"}, set()),
        ({}, {"critical_self_serve", "abandoned_managed", "lead_only_managed"}),
    ],
)
def test_filters_narrow_the_list(client, ic_user, query, kept):
    made = {
        "critical_self_serve": alert_for(severity=Severity.CRITICAL),
        "abandoned_managed": alert_for(
            cohort=Cohort.MANAGED, alert_type=AlertType.ABANDONED, severity=Severity.HIGH
        ),
        "lead_only_managed": StallAlertFactory(
            merchant=None,
            step=None,
            lead=LeadFactory(cohort=Cohort.MANAGED),
            alert_type=AlertType.SLA_BREACH,
        ),
    }
    client.force_login(ic_user)

    page = client.get(INBOX, query).text

    assert {name for name, alert in made.items() if f'id="alert-{alert.pk}"' in page} == kept


def test_an_alert_about_a_lead_alone_links_to_the_lead(client, ic_user):
    lead = LeadFactory(business_name="Solo Tacos")
    alert = StallAlertFactory(merchant=None, step=None, lead=lead, alert_type=AlertType.SLA_BREACH)
    client.force_login(ic_user)

    text = card(client.get(INBOX), alert)

    lead_page = reverse("leads:staff_lead_detail", args=[lead.pk])
    assert f'SLA breached: <a href="{lead_page}">Solo Tacos</a>' in text


def test_the_claimed_by_filter_keeps_mine_nobodys_or_one_persons(client, ic_user):
    other = AeUserFactory()
    mine = alert_for(alert_status=AlertStatus.ASSIGNED, assigned_to=ic_user)
    theirs = alert_for(alert_status=AlertStatus.ASSIGNED, assigned_to=other)
    nobodys = alert_for()
    client.force_login(ic_user)

    def shown(assignee):
        page = client.get(INBOX, {"assignee": assignee}).text
        return {
            name
            for name, alert in {"mine": mine, "theirs": theirs, "nobodys": nobodys}.items()
            if f'id="alert-{alert.pk}"' in page
        }

    assert shown("me") == {"mine"}
    assert shown("none") == {"nobodys"}
    assert shown(str(other.pk)) == {"theirs"}
    assert shown("") == {"mine", "theirs", "nobodys"}
    assert f'<option value="{other.pk}">{other.email}</option>' in client.get(INBOX).text


@pytest.mark.parametrize(
    "assignee",
    ["somebody", "00000000-0000-0000-0000-000000000000", "<b>x</b>", "1" * 5000],
    ids=["word", "unknown-user", "html", "huge"],
)
def test_an_unknown_assignee_is_a_400_with_a_message(client, ic_user, assignee):
    alert = alert_for()
    merchant_user = MerchantUserFactory()  # not someone who works alerts
    client.force_login(ic_user)

    response = client.get(INBOX, {"assignee": assignee})
    not_an_agent = client.get(INBOX, {"assignee": str(merchant_user.pk)})

    for answer in (response, not_an_agent):
        assert answer.status_code == 400
        assert views.FILTERS_INVALID in answer.text
        assert f"alert-{alert.pk}" not in answer.text
    assert "<b>x</b>" not in response.text


def test_filters_as_an_htmx_swap_answer_the_list_alone(client, ic_user):
    critical = alert_for(severity=Severity.CRITICAL)
    low = alert_for(severity=Severity.LOW)
    client.force_login(ic_user)

    response = client.get(INBOX, {"severity": "critical"}, headers=HTMX_LIST)

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="alert-list"')
    assert "<html" not in response.text
    assert f"alert-{critical.pk}" in response.text
    assert f"alert-{low.pk}" not in response.text


@pytest.mark.parametrize(
    "query", [{"severity": "urgent"}, {"alert_type": "bogus"}, {"cohort": "vip"}]
)
def test_an_unknown_filter_value_is_a_400_with_a_message(client, ic_user, query):
    alert = alert_for()
    client.force_login(ic_user)

    response = client.get(INBOX, query)

    assert response.status_code == 400
    assert views.FILTERS_INVALID in response.text
    assert 'role="alert"' in response.text
    assert f"alert-{alert.pk}" not in response.text


def test_a_page_number_out_of_range_shows_the_last_page(client, ic_user):
    alert = alert_for()
    client.force_login(ic_user)

    response = client.get(INBOX, {"page": "999"})

    assert response.status_code == 200
    assert f"alert-{alert.pk}" in response.text


def test_the_inbox_costs_the_same_queries_for_3_or_40_alerts(client, ic_user):
    def make(count):
        for n in range(count):
            alert_for(
                severity=[Severity.LOW, Severity.CRITICAL][n % 2],
                assigned_to=IcUserFactory() if n % 3 == 0 else None,
                alert_status=AlertStatus.ASSIGNED if n % 3 == 0 else AlertStatus.OPEN,
                notes=[{"at": "2026-03-02T12:00:00+00:00", "author": "a@x", "body": "n"}],
            )

    client.force_login(ic_user)
    make(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(INBOX).status_code == 200
    make(37)
    with CaptureQueriesContext(connection) as many:
        assert client.get(INBOX).status_code == 200
    with CaptureQueriesContext(connection) as filtered:
        query = {"severity": "critical", "cohort": "self_serve", "assignee": "none"}
        assert client.get(INBOX, query).status_code == 200

    assert len(few) == len(many) == len(filtered)


# --- claim ------------------------------------------------------------------------------------


def test_claiming_with_htmx_answers_the_card_now_yours(client, ic_user):
    alert = alert_for()
    client.force_login(ic_user)

    response = client.post(url("claim", alert), {"next": INBOX}, headers=HTMX)

    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<article id="alert-{alert.pk}"')
    assert views.CLAIMED in response.text
    assert "claimed by you" in response.text
    alert.refresh_from_db()
    assert alert.alert_status == AlertStatus.ASSIGNED
    assert alert.assigned_to == ic_user
    assert alert.history.first().history_user == ic_user


def test_claiming_without_javascript_redirects_back_with_a_message(client, ae_user):
    alert = alert_for()
    client.force_login(ae_user)
    back = f"{INBOX}?severity=medium"

    response = client.post(url("claim", alert), {"next": back})

    assert response.status_code == 302
    assert response.url == back
    assert flashed(response) == [f"{alert}: {views.CLAIMED}"]
    alert.refresh_from_db()
    assert alert.assigned_to == ae_user


def test_claiming_someone_elses_alert_is_refused_visibly(client, ic_user):
    holder = IcUserFactory()
    alert = alert_for()
    alert_claim(alert=alert, agent=holder, actor=holder)
    client.force_login(ic_user)

    response = client.post(url("claim", alert), headers=HTMX)

    assert response.status_code == 422
    assert response["HX-Retarget"] == f"#alert-{alert.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert ALERT_HELD_BY_OTHER.format(holder=holder.email) in response.text
    assert 'role="alert"' in response.text
    alert.refresh_from_db()
    assert alert.assigned_to == holder


def test_someone_elses_claimed_alert_offers_no_claim_resolve_or_dismiss(client, ic_user):
    holder = IcUserFactory()
    alert = alert_for()
    alert_claim(alert=alert, agent=holder, actor=holder)
    client.force_login(ic_user)

    text = card(client.get(INBOX), alert)

    assert f"claimed by {holder.email}" in text
    assert ">Claim</button>" not in text
    assert "Mark resolved" not in text
    assert "Save note" in text


def test_an_alert_of_an_inactive_holder_can_be_taken_over(client, ic_user):
    holder = IcUserFactory()
    alert = alert_for()
    alert_claim(alert=alert, agent=holder, actor=holder)
    holder.is_active = False
    holder.save()
    client.force_login(ic_user)

    assert client.post(url("claim", alert), headers=HTMX).status_code == 200
    alert.refresh_from_db()
    assert alert.assigned_to == ic_user


def test_claiming_a_closed_alert_is_refused(client, ic_user):
    alert = alert_for(alert_status=AlertStatus.RESOLVED)
    client.force_login(ic_user)

    response = client.post(url("claim", alert))

    assert response.status_code == 302
    assert "it cannot claim this alert now" in flashed(response)[0]


# --- resolve and dismiss ------------------------------------------------------------------------


def test_resolving_records_what_was_done(client, ic_user):
    alert = alert_for()
    alert_claim(alert=alert, agent=ic_user, actor=ic_user)
    client.force_login(ic_user)

    response = client.post(
        url("resolve", alert), {"action": "Called the owner; KYB documents sent"}, headers=HTMX
    )

    assert response.status_code == 200
    assert views.RESOLVED in response.text
    assert "Mark resolved" not in response.text
    alert.refresh_from_db()
    assert alert.alert_status == AlertStatus.RESOLVED
    assert alert.resolution_action == "Called the owner; KYB documents sent"
    assert alert.history.first().history_user == ic_user


@pytest.mark.parametrize("action", ["", "   "])
def test_resolving_without_saying_what_was_done_is_a_422(client, ic_user, action):
    alert = alert_for()
    client.force_login(ic_user)

    response = client.post(url("resolve", alert), {"action": action}, headers=HTMX)

    assert response.status_code == 422
    assert ACTION_REQUIRED in response.text
    assert "<details open>" in response.text
    alert.refresh_from_db()
    assert alert.alert_status == AlertStatus.OPEN


def test_resolving_without_javascript_and_without_action_says_so(client, ic_user):
    alert = alert_for()
    client.force_login(ic_user)

    response = client.post(url("resolve", alert), {"action": ""})

    assert response.status_code == 302
    assert flashed(response) == [f"{alert}: {ACTION_REQUIRED}"]
    alert.refresh_from_db()
    assert alert.alert_status == AlertStatus.OPEN


def test_resolving_someone_elses_claimed_alert_is_refused(client, ic_user):
    holder = AeUserFactory()
    alert = alert_for()
    alert_claim(alert=alert, agent=holder, actor=holder)
    client.force_login(ic_user)

    response = client.post(url("resolve", alert), {"action": "Done"}, headers=HTMX)

    assert response.status_code == 422
    assert ALERT_HELD_BY_OTHER.format(holder=holder.email) in response.text
    alert.refresh_from_db()
    assert alert.alert_status == AlertStatus.ASSIGNED


def test_an_overlong_action_is_refused_and_kept_for_editing(client, ic_user):
    alert = alert_for()
    client.force_login(ic_user)

    response = client.post(url("resolve", alert), {"action": "x" * 2001}, headers=HTMX)

    assert response.status_code == 422
    assert "x" * 2001 in response.text
    alert.refresh_from_db()
    assert alert.alert_status == AlertStatus.OPEN


def test_dismissing_needs_a_reason(client, ops_user):
    alert = alert_for()
    client.force_login(ops_user)

    refused = client.post(url("dismiss", alert), {"reason": ""}, headers=HTMX)
    alert.refresh_from_db()
    assert refused.status_code == 422
    assert REASON_REQUIRED in refused.text
    assert alert.alert_status == AlertStatus.OPEN

    done = client.post(url("dismiss", alert), {"reason": "Duplicate of the SLA alert"})
    alert.refresh_from_db()
    assert done.status_code == 302
    assert alert.alert_status == AlertStatus.DISMISSED
    assert alert.resolution_action == "Dismissed: Duplicate of the SLA alert"


def test_resolving_twice_is_refused_the_second_time(client, ic_user):
    alert = alert_for()
    client.force_login(ic_user)
    client.post(url("resolve", alert), {"action": "Done"}, headers=HTMX)

    response = client.post(url("resolve", alert), {"action": "Again"}, headers=HTMX)

    assert response.status_code == 422
    assert "cannot resolve this alert now" in response.text
    alert.refresh_from_db()
    assert alert.resolution_action == "Done"


# --- notes --------------------------------------------------------------------------------------


def test_notes_are_kept_in_order_with_their_authors(client, ic_user, ae_user):
    alert = alert_for()
    client.force_login(ic_user)
    client.post(url("note", alert), {"body": "Left a voicemail"}, headers=HTMX)
    client.force_login(ae_user)

    response = client.post(url("note", alert), {"body": "Owner on holiday"}, headers=HTMX)

    assert response.status_code == 200
    assert views.NOTE_ADDED in response.text
    alert.refresh_from_db()
    assert [(n["author"], n["body"]) for n in alert.notes] == [
        (ic_user.email, "Left a voicemail"),
        (ae_user.email, "Owner on holiday"),
    ]
    assert alert.history.first().history_user == ae_user
    assert alert.history.first().history_change_reason == "alert_note_add: Owner on holiday"
    assert response.text.index("Left a voicemail") < response.text.index("Owner on holiday")


def test_an_empty_note_is_a_422(client, ic_user):
    alert = alert_for()
    client.force_login(ic_user)

    response = client.post(url("note", alert), {"body": "  "}, headers=HTMX)

    assert response.status_code == 422
    assert NOTE_REQUIRED in response.text
    alert.refresh_from_db()
    assert alert.notes == []


def test_a_note_on_a_closed_alert_is_refused(client, ic_user):
    alert = alert_for(alert_status=AlertStatus.RESOLVED)
    client.force_login(ic_user)

    response = client.post(url("note", alert), {"body": "Too late"}, headers=HTMX)

    assert response.status_code == 422
    assert NOTE_ON_CLOSED_ALERT in response.text


def test_a_note_without_javascript_redirects_to_the_inbox_only(client, ic_user):
    alert = alert_for()
    client.force_login(ic_user)

    response = client.post(url("note", alert), {"body": "Hi", "next": "https://evil.example/"})

    assert response.status_code == 302
    assert response.url == INBOX
