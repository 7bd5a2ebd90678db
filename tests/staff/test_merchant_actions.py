"""The merchant hub's actions: each allowed or refused per role, through the domain services,
and hostile input refused with a message and a 4xx, nothing changed."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from apps.leads.models import Cohort
from apps.merchants.services.accounts import CALL_NOT_IN_PLAN
from apps.progress.models import AlertStatus, MerchantStepProgress, StallAlert
from apps.routing.models import AssignmentNote, AssignmentStatus, QueueAssignment
from apps.routing.services.checks import NOT_YOUR_ITEM
from apps.staff import services
from tests.accounts.factories import IcUserFactory
from tests.merchants.factories import MerchantFactory
from tests.progress.factories import StallAlertFactory, merchant_on_step
from tests.routing.factories import QueueAssignmentFactory


def action_url(merchant, action) -> str:
    return reverse("staff:merchant_action", args=[merchant.pk, action])


@pytest.fixture
def merchant(db):
    return MerchantFactory(cohort=Cohort.ASSISTED, lead__cohort=Cohort.ASSISTED)


@pytest.fixture
def ae_item(merchant, ae_user, queues):
    return QueueAssignmentFactory(
        queue=queues["ae_standard"],
        lead=merchant.lead,
        merchant=merchant,
        status=AssignmentStatus.ASSIGNED,
        assigned_to=ae_user,
    )


def _snapshot():
    return (
        AssignmentNote.objects.count(),
        QueueAssignment.objects.count(),
        list(StallAlert.objects.values_list("alert_status", "notes")),
    )


# --- note ----------------------------------------------------------------------------------


def test_an_ae_notes_their_queue_item_from_the_hub(client, ae_user, merchant, ae_item):
    client.force_login(ae_user)
    response = client.post(
        action_url(merchant, "note"),
        {"target": f"item:{ae_item.pk}", "body": "Called: back Monday"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:merchant", args=[merchant.pk])
    note = AssignmentNote.objects.get()
    assert (note.assignment, note.author, note.body) == (ae_item, ae_user, "Called: back Monday")
    page = client.get(response["Location"]).text
    assert "Called: back Monday" in page and "Note added." in page


def test_an_ic_notes_an_open_alert(client, ic_user, merchant):
    alert = StallAlertFactory(merchant=merchant)
    client.force_login(ic_user)
    response = client.post(
        action_url(merchant, "note"), {"target": f"alert:{alert.pk}", "body": "Emailed the owner"}
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.notes[-1]["body"] == "Emailed the owner"


def test_compliance_may_not_note_an_alert(client, compliance_user, merchant):
    alert = StallAlertFactory(merchant=merchant)
    client.force_login(compliance_user)
    before = _snapshot()
    response = client.post(
        action_url(merchant, "note"), {"target": f"alert:{alert.pk}", "body": "x"}
    )
    assert response.status_code == 403
    assert _snapshot() == before


def test_an_ae_may_not_note_an_item_another_ae_holds(client, merchant, ae_item):
    from tests.accounts.factories import AeUserFactory

    other = AeUserFactory()
    client.force_login(other)
    before = _snapshot()
    response = client.post(
        action_url(merchant, "note"), {"target": f"item:{ae_item.pk}", "body": "mine now"}
    )
    assert response.status_code == 403
    assert escape(NOT_YOUR_ITEM) in response.text
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"target": "item:<script>", "body": "hello"}, services.NOTE_TARGET_UNKNOWN),
        (
            {"target": "alert:00000000-0000-0000-0000-000000000000", "body": "hi"},
            services.NOTE_TARGET_UNKNOWN,
        ),
        ({"target": "item:{item}", "body": "   "}, services.NOTE_REQUIRED),
        ({"target": "item:{item}", "body": "x" * 5000}, "at most 2000 characters"),
        ({"target": "item:{item}"}, services.NOTE_REQUIRED),
        ({"target": "item:{item}", "body": ["a", "b"]}, None),
    ],
)
def test_hostile_notes_are_refused_with_a_message(
    client, ae_user, merchant, ae_item, data, message
):
    data = {
        k: (v.replace("{item}", str(ae_item.pk)) if isinstance(v, str) else v)
        for k, v in data.items()
    }
    client.force_login(ae_user)
    before = _snapshot()
    response = client.post(action_url(merchant, "note"), data)
    if message is None:  # a list for a text field: the last value is taken, like Django does
        assert response.status_code in (302, 422)
        return
    assert response.status_code == 422
    assert escape(message) in response.text
    assert 'role="alert"' in response.text
    assert _snapshot() == before


def test_a_nul_character_is_refused_before_the_view(client, ae_user, merchant, ae_item):
    client.force_login(ae_user)
    response = client.post(
        action_url(merchant, "note"), {"target": f"item:{ae_item.pk}", "body": "a\x00b"}
    )
    assert response.status_code == 400
    assert AssignmentNote.objects.count() == 0


def test_html_in_a_note_is_shown_as_text(client, ae_user, merchant, ae_item):
    client.force_login(ae_user)
    client.post(
        action_url(merchant, "note"),
        {"target": f"item:{ae_item.pk}", "body": "<img src=x onerror=alert(1)>"},
    )
    page = client.get(reverse("staff:merchant", args=[merchant.pk])).text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_an_item_of_another_merchant_is_not_a_target(client, ae_user, merchant, queues):
    other_item = QueueAssignmentFactory(
        queue=queues["ae_standard"], status=AssignmentStatus.ASSIGNED, assigned_to=ae_user
    )
    client.force_login(ae_user)
    response = client.post(
        action_url(merchant, "note"), {"target": f"item:{other_item.pk}", "body": "wrong place"}
    )
    assert response.status_code == 422
    assert AssignmentNote.objects.count() == 0


# --- IC intervention -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ae", "ic", "ops", "superuser"])
def test_raising_an_intervention_queues_the_merchant_for_ics(
    client, role_users, merchant, queues, role
):
    client.force_login(role_users[role])
    response = client.post(
        action_url(merchant, "intervention_raise"), {"reason": "Stuck on the data import"}
    )
    assert response.status_code == 302
    item = QueueAssignment.objects.get(queue=queues["ic_intervention"])
    assert item.merchant == merchant
    assert "Stuck on the data import" in item.reason


def test_compliance_may_not_raise_an_intervention(client, compliance_user, merchant, queues):
    client.force_login(compliance_user)
    response = client.post(action_url(merchant, "intervention_raise"), {"reason": "x"})
    assert response.status_code == 403
    assert QueueAssignment.objects.count() == 0


def test_a_second_intervention_is_refused(client, ic_user, merchant, queues):
    QueueAssignmentFactory(queue=queues["ic_intervention"], merchant=merchant, lead=None)
    client.force_login(ic_user)
    response = client.post(action_url(merchant, "intervention_raise"), {"reason": "again"})
    assert response.status_code == 422
    assert escape(services.INTERVENTION_ALREADY_OPEN) in response.text
    assert QueueAssignment.objects.count() == 1


def test_an_ic_resolves_the_intervention_its_alert_and_the_step_flag(
    client, ic_user, queues, journey_steps
):
    progress = merchant_on_step(step=4)
    merchant = progress.merchant
    item = QueueAssignmentFactory(queue=queues["ic_intervention"], merchant=merchant, lead=None)
    alert = StallAlertFactory(merchant=merchant, step=journey_steps[4], queue_assignment=item)
    MerchantStepProgress.objects.filter(pk=progress.pk).update(intervention_required=True)
    client.force_login(ic_user)
    response = client.post(
        action_url(merchant, "intervention_resolve"), {"note": "Walked them through the import"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    alert.refresh_from_db()
    progress.refresh_from_db()
    assert item.status == AssignmentStatus.RESOLVED
    assert item.assigned_to == ic_user and item.first_contact_at is not None
    assert alert.alert_status == AlertStatus.RESOLVED
    assert alert.resolution_action == "Walked them through the import"
    assert progress.intervention_required is False
    assert item.history.first().history_user == ic_user


@pytest.mark.parametrize("role", ["ae", "compliance", "ops"])
def test_only_ics_resolve_interventions(client, role_users, merchant, queues, role):
    item = QueueAssignmentFactory(queue=queues["ic_intervention"], merchant=merchant, lead=None)
    client.force_login(role_users[role])
    response = client.post(action_url(merchant, "intervention_resolve"), {"note": "done"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.status == AssignmentStatus.QUEUED


def test_an_intervention_another_ic_holds_is_theirs_to_resolve(client, merchant, queues):
    holder = IcUserFactory()
    item = QueueAssignmentFactory(
        queue=queues["ic_intervention"],
        merchant=merchant,
        lead=None,
        status=AssignmentStatus.ASSIGNED,
        assigned_to=holder,
    )
    client.force_login(IcUserFactory())
    response = client.post(action_url(merchant, "intervention_resolve"), {"note": "done"})
    assert response.status_code == 403
    assert escape(NOT_YOUR_ITEM) in response.text
    item.refresh_from_db()
    assert item.status == AssignmentStatus.ASSIGNED


def test_resolving_without_an_intervention_says_so(client, ic_user, merchant, queues):
    client.force_login(ic_user)
    response = client.post(action_url(merchant, "intervention_resolve"), {"note": "done"})
    assert response.status_code == 422
    assert escape(services.NO_INTERVENTION) in response.text


# --- call back -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ae", "ic", "ops"])
def test_a_call_back_puts_the_lead_in_its_ae_queue(client, role_users, merchant, queues, role):
    user = role_users[role]
    client.force_login(user)
    response = client.post(action_url(merchant, "call_back"), {"why": "Wants a hardware demo"})
    assert response.status_code == 302
    item = QueueAssignment.objects.get(queue=queues["ae_standard"])
    assert item.lead == merchant.lead
    assert user.email in item.reason and "Wants a hardware demo" in item.reason


def test_compliance_may_not_request_a_call_back(client, compliance_user, merchant, queues):
    client.force_login(compliance_user)
    assert client.post(action_url(merchant, "call_back"), {"why": "x"}).status_code == 403
    assert QueueAssignment.objects.count() == 0


def test_a_self_serve_merchant_has_no_call_back(client, ae_user, queues):
    merchant = MerchantFactory(cohort=Cohort.SELF_SERVE)
    client.force_login(ae_user)
    response = client.post(action_url(merchant, "call_back"), {"why": "Please call"})
    assert response.status_code == 422
    assert escape(CALL_NOT_IN_PLAN) in response.text
    assert QueueAssignment.objects.count() == 0


# --- any action ----------------------------------------------------------------------------


def test_an_unknown_action_is_404_and_get_is_405(client, ae_user, merchant):
    client.force_login(ae_user)
    assert client.post(action_url(merchant, "delete_everything"), {}).status_code == 404
    assert client.get(action_url(merchant, "note")).status_code == 405


def test_merchants_and_anonymous_visitors_cannot_act(client, merchant):
    response = client.post(action_url(merchant, "call_back"), {"why": "x"})
    assert response.status_code == 302
    client.force_login(merchant.user)
    assert client.post(action_url(merchant, "call_back"), {"why": "x"}).status_code == 403
    assert QueueAssignment.objects.count() == 0
