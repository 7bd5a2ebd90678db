"""/staff/queues/: AEs work AE queues, ICs IC queues, ops watch them all; every action is a
POST through a service, answered with the lists (htmx) or a redirect with a message; bad
input is a 4xx that changes nothing; the page costs the same queries for 10 or 500 items."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.leads.models import Lead
from apps.routing import views
from apps.routing.models import AssignmentNote, AssignmentStatus, QueueAssignment
from apps.routing.services import checks, notes
from apps.routing.templatetags.routing_tags import lead_url
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
)
from tests.routing.factories import AssignmentNoteFactory, QueueAssignmentFactory

pytestmark = pytest.mark.django_db

S = AssignmentStatus
HTMX = {"HX-Request": "true"}
INDEX = reverse("routing:queue_index")


def queue_url(code) -> str:
    return reverse("routing:queue_detail", args=[code])


def claim_url(code) -> str:
    return reverse("routing:claim_next", args=[code])


def item_url(item) -> str:
    return reverse("routing:item_detail", args=[item.queue.code, item.pk])


def action_url(item, action) -> str:
    return reverse("routing:assignment_action", args=[item.queue.code, item.pk, action])


def held(queue, agent, status=S.ASSIGNED, **extra):
    """An item `agent` holds, queued a minute ago with its SLA clock running."""
    queued_at = extra.pop("queued_at", timezone.now() - timedelta(minutes=1))
    extra.setdefault("sla_due_at", queued_at + timedelta(minutes=queue.sla_minutes))
    return QueueAssignmentFactory(
        queue=queue,
        status=status,
        assigned_to=agent,
        assigned_at=timezone.now(),
        queued_at=queued_at,
        **extra,
    )


# --- who gets in: role × URL ----------------------------------------------------------------

ROLES = {
    "merchant": MerchantUserFactory,
    "ae": AeUserFactory,
    "ic": IcUserFactory,
    "compliance": ComplianceUserFactory,
    "ops": OpsUserFactory,
}


def _urls(queues, holder):
    ae_item = held(queues["ae_standard"], holder)
    ic_item = held(queues["ic_onboarding"], holder)
    return {
        "index": ("get", INDEX),
        "ae-queue": ("get", queue_url("ae_standard")),
        "ic-queue": ("get", queue_url("ic_onboarding")),
        "compliance-queue": ("get", queue_url("compliance_review")),
        "ae-claim": ("post", claim_url("ae_standard")),
        "ic-claim": ("post", claim_url("ic_onboarding")),
        "ae-action": ("post", action_url(ae_item, "note")),
        "ic-action": ("post", action_url(ic_item, "note")),
    }


URL_NAMES = [
    "index",
    "ae-queue",
    "ic-queue",
    "compliance-queue",
    "ae-claim",
    "ic-claim",
    "ae-action",
    "ic-action",
]
# Expected status per role; a POST that gets through answers with a redirect (no JavaScript).
MATRIX = {
    "merchant": dict.fromkeys(URL_NAMES, 403),
    "compliance": dict.fromkeys(URL_NAMES, 403),
    "ae": {
        "index": 200,
        "ae-queue": 200,
        "ic-queue": 403,
        "compliance-queue": 403,
        "ae-claim": 302,
        "ic-claim": 403,
        "ae-action": 302,
        "ic-action": 403,
    },
    "ic": {
        "index": 200,
        "ae-queue": 403,
        "ic-queue": 200,
        "compliance-queue": 403,
        "ae-claim": 403,
        "ic-claim": 302,
        "ae-action": 403,
        "ic-action": 302,
    },
    "ops": {
        "index": 200,
        "ae-queue": 200,
        "ic-queue": 200,
        "compliance-queue": 200,
        "ae-claim": 403,
        "ic-claim": 403,
        "ae-action": 403,
        "ic-action": 403,
    },
}
CASES = [
    pytest.param(role, url, expected, id=f"{role}-{url}")
    for role, urls in MATRIX.items()
    for url, expected in urls.items()
]


@pytest.mark.parametrize(("role", "url", "expected"), CASES)
def test_each_role_reaches_exactly_its_queue_pages(client, queues, role, url, expected):
    user = ROLES[role]()
    method, path = _urls(queues, holder=user)[url]
    client.force_login(user)

    response = getattr(client, method)(path, {"body": "Called back"} if method == "post" else {})

    assert response.status_code == expected


@pytest.mark.parametrize(
    "url",
    [
        "index",
        "ae-queue",
        "ic-queue",
        "compliance-queue",
        "ae-claim",
        "ic-claim",
        "ae-action",
        "ic-action",
    ],
)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, queues, url):
    method, path = _urls(queues, holder=AeUserFactory())[url]

    response = getattr(client, method)(path)

    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('accounts:login')}?next=")


def test_an_anonymous_htmx_refresh_sends_the_whole_window_to_sign_in(client, queues):
    page = queue_url("ae_standard")
    response = client.get(
        page,
        headers={**HTMX, "HX-Target": "queue-lists", "HX-Current-URL": f"http://testserver{page}"},
    )
    assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next={page}"


def test_nothing_changes_when_a_role_without_access_posts(client, queues):
    waiting = QueueAssignmentFactory(queue=queues["ae_standard"])
    client.force_login(OpsUserFactory())

    client.post(claim_url("ae_standard"))

    assert QueueAssignment.objects.get(pk=waiting.pk).status == S.QUEUED


# --- the index ------------------------------------------------------------------------------


def test_an_ae_sees_the_ae_queues_with_their_figures(client, queues, ae_user):
    QueueAssignmentFactory(queue=queues["ae_standard"])
    QueueAssignmentFactory(
        queue=queues["ae_standard"],
        queued_at=timezone.now() - timedelta(hours=5),
        sla_due_at=timezone.now() - timedelta(hours=1),
    )
    held(
        queues["ae_standard"],
        ae_user,
        status=S.CONTACTED,
        sla_due_at=timezone.now() + timedelta(hours=1),
        first_contact_at=timezone.now(),
    )
    client.force_login(ae_user)

    page = client.get(INDEX).text

    assert 'id="queue-ae_high_priority"' in page
    assert 'id="queue-ae_standard"' in page
    assert "ic_onboarding" not in page
    assert "compliance_review" not in page
    row = page.split('id="queue-ae_standard"')[1].split("</tr>")[0]
    cells = [cell.split(">", 1)[1].split("<")[0].strip() for cell in row.split("<td")[1:]]
    # type, SLA, waiting, held, yours, overdue, SLAs met
    assert cells[1:5] == ["240 min", "2", "1", "1"]
    assert ">1</mark>" in row  # one overdue
    assert "50%" in row  # two SLAs ended: one met (contacted), one missed (overdue)


def test_an_ic_sees_the_ic_queues(client, queues, ic_user):
    client.force_login(ic_user)
    page = client.get(INDEX).text
    assert 'id="queue-ic_onboarding"' in page
    assert 'id="queue-ic_intervention"' in page
    assert "ae_standard" not in page


def test_ops_see_every_queue(client, queues, ops_user):
    client.force_login(ops_user)
    page = client.get(INDEX).text
    for code in queues:
        assert f'id="queue-{code}"' in page


# --- the queue page -------------------------------------------------------------------------


def _ids(page: str) -> list[str]:
    """The item ids of the list, in page order."""
    return [chunk.split('"')[0] for chunk in page.split('id="item-')[1:]]


def test_the_queue_page_lists_every_open_item_by_priority_then_age(client, queues, ae_user):
    queue = queues["ae_standard"]
    now = timezone.now()
    old_low = QueueAssignmentFactory(queue=queue, priority=5, queued_at=now - timedelta(hours=3))
    new_high = QueueAssignmentFactory(queue=queue, priority=80, queued_at=now)
    old_high = QueueAssignmentFactory(
        queue=queue, priority=80, queued_at=now - timedelta(minutes=10)
    )
    mine_low = held(queue, ae_user, priority=1)
    mine_high = held(queue, ae_user, priority=60)
    theirs = held(queue, AeUserFactory(first_name="Kim", last_name="Lee"), priority=70)
    client.force_login(ae_user)

    page = client.get(queue_url("ae_standard")).text

    expected = [old_high, new_high, theirs, mine_high, old_low, mine_low]
    assert _ids(page) == [str(item.pk) for item in expected]
    assert "Open items (6)" in page
    assert "Waiting (3)" in page and "Mine (2)" in page and "Held by others (1)" in page
    assert "Kim Lee" in page.split(f'id="item-{theirs.pk}"')[1].split("</tr>")[0]
    assert ">you</small>" in page.split(f'id="item-{mine_high.pk}"')[1].split("</tr>")[0]
    assert ">Claim next</button>" in page

    mine = client.get(queue_url("ae_standard"), {"assignee": "me"}).text
    assert _ids(mine) == [str(mine_high.pk), str(mine_low.pk)]
    waiting = client.get(queue_url("ae_standard"), {"status": "queued"}).text
    assert _ids(waiting) == [str(item.pk) for item in (old_high, new_high, old_low)]


def test_each_row_links_to_the_lead_and_shows_its_sla_countdown(client, queues, ae_user):
    queue = queues["ae_standard"]  # 240 minutes
    now = timezone.now()
    fresh = QueueAssignmentFactory(
        queue=queue, queued_at=now, sla_due_at=now + timedelta(minutes=240)
    )
    soon = QueueAssignmentFactory(
        queue=queue,
        queued_at=now - timedelta(minutes=200),
        sla_due_at=now + timedelta(minutes=40),
    )
    late = QueueAssignmentFactory(
        queue=queue,
        queued_at=now - timedelta(minutes=300),
        sla_due_at=now - timedelta(minutes=60),
    )
    client.force_login(ae_user)

    page = client.get(queue_url("ae_standard")).text

    def row(item):
        return page.split(f'id="item-{item.pk}"')[1].split("</tr>")[0]

    assert f'href="{lead_url(fresh.lead_id)}"' in row(fresh)
    assert fresh.lead.business_name in row(fresh)
    assert "On track" in row(fresh) and "Due in 4 h" in row(fresh)
    assert "Due soon" in row(soon) and "Due in 40 min" in row(soon)
    assert 'class="sla sla-warning"' in row(soon)
    assert "Breached" in row(late) and "Breached 1 h ago" in row(late)
    assert 'class="sla sla-danger"' in row(late)


def test_a_row_whose_lead_has_a_merchant_links_to_the_merchant_page(
    client, queues, ae_user, journey_steps
):
    from tests.merchants.factories import account_created_merchant

    merchant = account_created_merchant(business_name="Hub Bakery")
    item = QueueAssignmentFactory(queue=queues["ae_standard"], lead=merchant.lead)
    ic_item = QueueAssignmentFactory(queue=queues["ic_intervention"], lead=None, merchant=merchant)
    client.force_login(ae_user)

    page = client.get(queue_url("ae_standard")).text
    row = page.split(f'id="item-{item.pk}"')[1].split("</tr>")[0]

    assert f'href="{reverse("staff:merchant", args=[merchant.pk])}"' in row
    client.force_login(IcUserFactory())
    ic_page = client.get(queue_url("ic_intervention")).text
    ic_row = ic_page.split(f'id="item-{ic_item.pk}"')[1].split("</tr>")[0]
    assert f'href="{reverse("staff:merchant", args=[merchant.pk])}"' in ic_row


def test_the_lead_link_goes_to_the_staff_lead_page(queues):
    lead = QueueAssignmentFactory(queue=queues["ae_standard"]).lead
    assert lead_url(lead.pk) == reverse("leads:staff_lead_detail", kwargs={"lead_id": lead.pk})


def test_the_lead_link_falls_back_to_the_admin_without_a_staff_lead_page(queues, monkeypatch):
    from django.urls import NoReverseMatch

    from apps.routing.templatetags import routing_tags

    real_reverse = routing_tags.reverse

    def reverse_without_lead_page(name, *args, **kwargs):
        if name == "leads:staff_lead_detail":
            raise NoReverseMatch(name)
        return real_reverse(name, *args, **kwargs)

    monkeypatch.setattr(routing_tags, "reverse", reverse_without_lead_page)
    lead = QueueAssignmentFactory(queue=queues["ae_standard"]).lead

    assert lead_url(lead.pk) == f"/admin/leads/lead/{lead.pk}/change/"


def test_ops_watch_a_queue_without_actions(client, queues, ops_user):
    item = held(queues["ae_standard"], AeUserFactory())
    client.force_login(ops_user)

    page = client.get(queue_url("ae_standard")).text

    assert f"item-{item.pk}" in page
    assert "Claim next" not in page
    assert "Record contact" not in page


def test_the_lists_refresh_alone_for_htmx(client, queues, ae_user):
    client.force_login(ae_user)

    response = client.get(queue_url("ae_standard"), headers={**HTMX, "HX-Target": "queue-lists"})

    assert response.status_code == 200
    assert response.text.strip().startswith('<div id="queue-lists"')
    assert "<html" not in response.text
    assert 'hx-trigger="every 30s' in response.text


def test_the_queue_page_shows_its_share_of_slas_met(client, queues, ae_user):
    queue = queues["ae_standard"]
    now = timezone.now()
    for contact_minutes in (10, 20, 30):
        QueueAssignmentFactory(
            queue=queue,
            status=S.RESOLVED,
            queued_at=now - timedelta(hours=10),
            sla_due_at=now - timedelta(hours=10) + timedelta(minutes=240),
            first_contact_at=now - timedelta(hours=10) + timedelta(minutes=contact_minutes),
        )
    QueueAssignmentFactory(
        queue=queue, queued_at=now - timedelta(hours=10), sla_due_at=now - timedelta(hours=6)
    )
    client.force_login(ae_user)

    page = client.get(queue_url("ae_standard")).text

    assert "SLAs met: <strong" in page
    assert ">75%</strong> (3 of 4 ended)" in page


# --- actions --------------------------------------------------------------------------------


def test_claim_next_with_htmx_moves_the_top_item_to_my_items(client, queues, ae_user):
    queue = queues["ae_standard"]
    QueueAssignmentFactory(queue=queue, priority=1)
    top = QueueAssignmentFactory(queue=queue, priority=99)
    client.force_login(ae_user)

    response = client.post(claim_url("ae_standard"), headers=HTMX)

    assert response.status_code == 200
    top.refresh_from_db()
    assert top.assigned_to == ae_user
    mine = response.text.split('id="waiting-heading"')[0]
    assert f"item-{top.pk}" in mine
    assert views.CLAIMED.format(item=top.lead) in response.text
    assert "Record contact" in mine


def test_claim_next_without_javascript_redirects_back_with_a_message(client, queues, ae_user):
    item = QueueAssignmentFactory(queue=queues["ae_standard"])
    client.force_login(ae_user)

    response = client.post(claim_url("ae_standard"), follow=True)

    assert response.redirect_chain == [(queue_url("ae_standard"), 302)]
    assert views.CLAIMED.format(item=item.lead) in response.text
    assert QueueAssignment.objects.get(pk=item.pk).assigned_to == ae_user


def test_claiming_from_an_empty_queue_says_so(client, queues, ae_user):
    client.force_login(ae_user)

    response = client.post(claim_url("ae_standard"), headers=HTMX)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#queue-lists"
    assert response["HX-Reswap"] == "outerHTML"
    assert views.QUEUE_EMPTY in response.text
    assert 'role="alert"' in response.text


def test_an_agent_at_their_limit_is_told_so(client, queues):
    agent = AeUserFactory(max_open_assignments=1)
    held(queues["ae_standard"], agent)
    waiting = QueueAssignmentFactory(queue=queues["ae_standard"])
    client.force_login(agent)

    response = client.post(claim_url("ae_standard"), headers=HTMX)

    assert response.status_code == 422
    assert checks.AT_CAPACITY in response.text
    assert QueueAssignment.objects.get(pk=waiting.pk).status == S.QUEUED


def test_recording_contact_stops_the_clock_in_the_row(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    response = client.post(action_url(item, "contact"), headers=HTMX)

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.status == S.CONTACTED
    assert item.first_contact_at is not None
    row = response.text.split(f'id="item-{item.pk}"')[1].split("</tr>")[0]
    assert "Contacted on time · clock stopped" in row
    assert "left" not in row
    assert "Start work" in row


def test_start_then_resolve(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user, status=S.CONTACTED, first_contact_at=timezone.now())
    client.force_login(ae_user)

    assert client.post(action_url(item, "start"), headers=HTMX).status_code == 200
    item.refresh_from_db()
    assert item.status == S.IN_PROGRESS

    response = client.post(action_url(item, "resolve"), {"note": "Quote sent"}, headers=HTMX)

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.status == S.RESOLVED
    assert "Quote sent" in item.history.first().history_change_reason
    assert f"item-{item.pk}" not in response.text


@pytest.mark.parametrize(("action", "status"), [("escalate", S.ESCALATED), ("release", S.QUEUED)])
def test_escalate_and_release_keep_the_reason(client, queues, ae_user, action, status):
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    response = client.post(action_url(item, action), {"reason": "Needs French"}, headers=HTMX)

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.status == status
    assert item.reason == "Needs French"
    assert "Needs French" in item.history.first().history_change_reason


@pytest.mark.parametrize("action", ["escalate", "release"])
def test_escalate_or_release_without_a_reason_is_refused_and_changes_nothing(
    client, queues, ae_user, action
):
    item = held(queues["ae_standard"], ae_user)
    history = item.history.count()
    client.force_login(ae_user)

    response = client.post(action_url(item, action), {"reason": "   "}, headers=HTMX)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#queue-lists"
    assert checks.REASON_REQUIRED in response.text
    item.refresh_from_db()
    assert item.status == S.ASSIGNED
    assert item.history.count() == history


def test_reassign_hands_the_item_to_a_colleague_with_the_reason(client, queues, ae_user):
    colleague = AeUserFactory(first_name="Noor", last_name="Haddad")
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    page = client.get(item_url(item)).text
    assert f'<option value="{colleague.pk}">Noor Haddad</option>' in page
    assert 'name="agent"' not in client.get(queue_url("ae_standard")).text  # not in the rows

    response = client.post(
        action_url(item, "reassign"),
        {"agent": colleague.pk, "reason": "Speaks Arabic"},
        headers=HTMX,
    )

    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.status, item.assigned_to, item.reason) == (S.ASSIGNED, colleague, "Speaks Arabic")
    assert views.ACTIONS["reassign"][2].format(item=item.lead, agent="Noor Haddad") in (
        response.text
    )
    row = response.text.split(f'id="item-{item.pk}"')[1].split("</tr>")[0]
    assert "Noor Haddad" in row


@pytest.mark.parametrize(
    "make_agent",
    [IcUserFactory, lambda: AeUserFactory(is_active=False), lambda: None],
    ids=["ic", "inactive-ae", "nobody"],
)
def test_reassign_to_someone_who_does_not_work_the_queue_is_refused(
    client, queues, ae_user, make_agent
):
    from apps.routing.forms import AGENT_REQUIRED

    agent = make_agent()
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    response = client.post(
        action_url(item, "reassign"),
        {"agent": agent.pk if agent else "", "reason": "Holiday"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert AGENT_REQUIRED in response.text
    item.refresh_from_db()
    assert item.assigned_to == ae_user


def test_a_refusal_without_javascript_is_shown_after_the_redirect(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    response = client.post(action_url(item, "release"), {}, follow=True)

    assert response.redirect_chain == [(queue_url("ae_standard"), 302)]
    assert checks.REASON_REQUIRED in response.text
    assert QueueAssignment.objects.get(pk=item.pk).status == S.ASSIGNED


def test_a_note_is_added_and_shown_on_the_item_page(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    response = client.post(action_url(item, "note"), {"body": "Call after 3pm"}, headers=HTMX)

    assert response.status_code == 200
    note = AssignmentNote.objects.get(assignment=item)
    assert (note.author, note.body) == (ae_user, "Call after 3pm")
    assert note.history.first().history_user == ae_user
    assert views.ACTIONS["note"][2].format(item=item.lead) in response.text
    page = client.get(item_url(item)).text
    assert "Call after 3pm" in page
    assert "Notes (1)" in page


def test_an_empty_note_is_refused(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    response = client.post(action_url(item, "note"), {"body": ""}, headers=HTMX)

    assert response.status_code == 422
    assert notes.NOTE_REQUIRED in response.text
    assert not AssignmentNote.objects.exists()


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("contact", {}),
        ("release", {"reason": "Not mine"}),
        ("escalate", {"reason": "Not mine"}),
        ("note", {"body": "Hello"}),
    ],
)
def test_acting_on_someone_elses_item_is_refused_and_changes_nothing(
    client, queues, ae_user, action, data
):
    other = AeUserFactory()
    item = held(queues["ae_standard"], other)
    history = item.history.count()
    client.force_login(ae_user)

    response = client.post(action_url(item, action), data, headers=HTMX)

    assert response.status_code == 422
    assert checks.NOT_YOUR_ITEM in response.text
    item.refresh_from_db()
    assert (item.status, item.assigned_to) == (S.ASSIGNED, other)
    assert item.history.count() == history
    assert not AssignmentNote.objects.exists()


def test_an_action_not_allowed_in_the_items_state_says_why(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    response = client.post(action_url(item, "start"), headers=HTMX)

    assert response.status_code == 422
    assert "it cannot start work now" in response.text
    assert QueueAssignment.objects.get(pk=item.pk).status == S.ASSIGNED


# --- bad addresses --------------------------------------------------------------------------


def test_an_unknown_queue_is_a_404(client, queues, ae_user):
    client.force_login(ae_user)
    assert client.get(queue_url("no_such_queue")).status_code == 404
    assert client.post(claim_url("no_such_queue")).status_code == 404


def test_an_unknown_action_is_a_404(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)
    assert client.post(action_url(item, "delete")).status_code == 404
    assert QueueAssignment.objects.get(pk=item.pk).status == S.ASSIGNED


def test_an_item_of_another_queue_is_a_404(client, queues, ae_user):
    item = held(queues["ae_high_priority"], ae_user)
    client.force_login(ae_user)
    url = reverse("routing:assignment_action", args=["ae_standard", item.pk, "contact"])
    assert client.post(url).status_code == 404
    assert QueueAssignment.objects.get(pk=item.pk).status == S.ASSIGNED


def test_an_unknown_item_is_a_404(client, queues, ae_user):
    client.force_login(ae_user)
    url = reverse(
        "routing:assignment_action",
        args=["ae_standard", "00000000-0000-0000-0000-000000000000", "contact"],
    )
    assert client.post(url).status_code == 404


def test_actions_are_posts(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)
    assert client.get(claim_url("ae_standard")).status_code == 405
    assert client.get(action_url(item, "contact")).status_code == 405


# --- cost -----------------------------------------------------------------------------------


def _bulk_items(queue, count, *, agent, other):
    """`count` waiting items, plus `count // 10` held by `agent` and by `other`, each with a
    note, with their leads, in a handful of INSERTs."""
    now = timezone.now()
    start = Lead.objects.count()
    leads = Lead.objects.bulk_create(
        [
            Lead(
                email=f"bulk{start + index}@example.com",
                business_name=f"Shop {start + index}",
                annual_revenue_estimate=Decimal("250000"),
                number_of_locations=1,
                cohort="assisted",
            )
            for index in range(count + 2 * (count // 10))
        ]
    )
    items = []
    for index, lead in enumerate(leads):
        holder = None
        status = S.QUEUED
        if index >= count:
            holder = agent if index < count + count // 10 else other
            status = S.ASSIGNED
        items.append(
            QueueAssignment(
                queue=queue,
                lead=lead,
                status=status,
                assigned_to=holder,
                assigned_at=now if holder else None,
                priority=index % 50,
                queued_at=now - timedelta(minutes=index),
                sla_due_at=now - timedelta(minutes=index) + timedelta(minutes=240),
            )
        )
    QueueAssignment.objects.bulk_create(items)
    AssignmentNote.objects.bulk_create(
        [AssignmentNote(assignment=item, author=agent, body="bulk note") for item in items]
    )


def _queries(client, url, **headers) -> int:
    """Queries of a view of `url` once figures cached for a minute are warm."""
    client.get(url, headers=headers)
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_the_queue_pages_cost_the_same_queries_for_10_or_500_items(client, queues, ae_user):
    queue = queues["ae_standard"]
    other = AeUserFactory()
    client.force_login(ae_user)
    _bulk_items(queue, 10, agent=ae_user, other=other)
    few = (
        _queries(client, queue_url(queue.code)),
        _queries(client, queue_url(queue.code), **HTMX, **{"HX-Target": "queue-lists"}),
        _queries(client, INDEX),
    )

    _bulk_items(queue, 490, agent=ae_user, other=other)
    assert QueueAssignment.objects.filter(queue=queue, status=S.QUEUED).count() == 500

    many = (
        _queries(client, queue_url(queue.code)),
        _queries(client, queue_url(queue.code), **HTMX, **{"HX-Target": "queue-lists"}),
        _queries(client, INDEX),
    )
    assert many == few
    print(f"queries (page, lists refresh, index): {few}")


def test_long_lists_are_paginated_twenty_five_per_page(client, queues, ae_user):
    _bulk_items(queues["ae_standard"], 60, agent=ae_user, other=AeUserFactory())
    client.force_login(ae_user)

    first = client.get(queue_url("ae_standard")).text
    last = client.get(queue_url("ae_standard"), {"page": 3}).text
    waiting = client.get(queue_url("ae_standard"), {"status": "queued", "page": 3}).text

    assert first.count('id="item-') == 25
    assert last.count('id="item-') == 22  # 60 waiting + 6 mine + 6 others
    assert "Open items (72)" in first
    assert waiting.count('id="item-') == 10
    assert "?status=queued&amp;page=2" in waiting  # the filters are kept


def test_the_item_page_shows_its_notes(client, queues, ae_user):
    item = held(queues["ae_standard"], ae_user)
    AssignmentNoteFactory(assignment=item, author=ae_user, body="First call: voicemail")
    client.force_login(ae_user)

    page = client.get(item_url(item)).text

    assert "First call: voicemail" in page
