"""The queue page leads to the work: claim the item you chose, filter (status, cohort,
assignee) and search (business or contact name), sort (priority, age, SLA), see escalated
items with who holds them, and "claim next" disabled with the reason when nothing waits.
Hostile filter values get a clear message and a 400, never a 500."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.routing import views
from apps.routing.forms import FILTER_INVALID
from apps.routing.models import AssignmentStatus, QueueAssignment
from apps.routing.services import checks, claims
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
)
from tests.leads.factories import LeadFactory
from tests.routing.factories import QueueAssignmentFactory
from tests.routing.test_queue_pages import (
    HTMX,
    _bulk_items,
    _ids,
    _queries,
    action_url,
    held,
    item_url,
    queue_url,
)

pytestmark = pytest.mark.django_db

S = AssignmentStatus


def waiting(queue, name="Corner Cafe", **extra):
    lead_fields = {
        key: extra.pop(key) for key in ("first_name", "last_name", "cohort") if key in extra
    }
    return QueueAssignmentFactory(
        queue=queue, lead=LeadFactory(business_name=name, **lead_fields), **extra
    )


# --- role × URL: the item page --------------------------------------------------------------

ITEM_MATRIX = {
    "merchant": (MerchantUserFactory, {"ae": 403, "ic": 403}),
    "compliance": (ComplianceUserFactory, {"ae": 403, "ic": 403}),
    "ae": (AeUserFactory, {"ae": 200, "ic": 403}),
    "ic": (IcUserFactory, {"ae": 403, "ic": 200}),
    "ops": (OpsUserFactory, {"ae": 200, "ic": 200}),
}


@pytest.mark.parametrize("role", ITEM_MATRIX)
@pytest.mark.parametrize("queue_kind", ["ae", "ic"])
def test_each_role_reaches_exactly_its_item_pages(client, queues, role, queue_kind):
    make_user, expected = ITEM_MATRIX[role]
    code = "ae_standard" if queue_kind == "ae" else "ic_onboarding"
    item = waiting(queues[code])
    client.force_login(make_user())

    assert client.get(item_url(item)).status_code == expected[queue_kind]


def test_an_anonymous_visitor_is_sent_to_sign_in_from_an_item_page(client, queues):
    item = waiting(queues["ae_standard"])
    response = client.get(item_url(item))
    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('accounts:login')}?next=")


def test_an_item_of_another_queue_or_unknown_is_a_404(client, queues, ae_user):
    item = waiting(queues["ae_high_priority"])
    client.force_login(ae_user)
    other = reverse("routing:item_detail", args=["ae_standard", item.pk])
    unknown = reverse(
        "routing:item_detail", args=["ae_standard", "00000000-0000-0000-0000-000000000000"]
    )
    assert client.get(other).status_code == 404
    assert client.get(unknown).status_code == 404


# --- claim a specific item ------------------------------------------------------------------


def test_an_ae_claims_the_item_they_chose_not_the_top_one(client, queues, ae_user):
    queue = queues["ae_standard"]
    top = waiting(queue, "Top Priority Inc", priority=99)
    chosen = waiting(queue, "Chosen Bakery", priority=1)
    client.force_login(ae_user)

    page = client.get(queue_url("ae_standard")).text
    row = page.split(f'id="item-{chosen.pk}"')[1].split("</tr>")[0]
    assert ">Claim</button>" in row

    response = client.post(action_url(chosen, "claim"), headers=HTMX)

    assert response.status_code == 200
    assert views.CLAIMED.format(item=chosen.lead) in response.text
    chosen.refresh_from_db()
    assert (chosen.status, chosen.assigned_to) == (S.ASSIGNED, ae_user)
    assert QueueAssignment.objects.get(pk=top.pk).status == S.QUEUED
    assert chosen.lead.__class__.objects.get(pk=chosen.lead_id).assigned_ae == ae_user
    assert "claimed" in chosen.history.first().history_change_reason
    row = response.text.split(f'id="item-{chosen.pk}"')[1].split("</tr>")[0]
    assert ">you</small>" in row and "Record contact" in row


def test_claiming_without_javascript_keeps_the_filters_and_from_the_item_page_goes_back_to_it(
    client, queues, ae_user
):
    queue = queues["ae_standard"]
    first, second = waiting(queue, "First"), waiting(queue, "Second")
    client.force_login(ae_user)

    from_list = client.post(f"{action_url(first, 'claim')}?status=queued&sort=age")
    from_item = client.post(action_url(second, "claim"), {"back": "item"})

    assert from_list.status_code == 302
    assert from_list.url == f"{queue_url('ae_standard')}?status=queued&sort=age"
    assert from_item.url == item_url(second)
    assert "You took Second" in client.get(from_item.url).text


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("taken", claims.ALREADY_TAKEN.format(holder="Kim Lee")),
        ("resolved", claims.NOT_WAITING.format(status="resolved")),
        ("escalated", claims.NOT_WAITING.format(status="escalated")),
    ],
)
def test_claiming_an_item_that_no_longer_waits_is_refused_and_changes_nothing(
    client, queues, ae_user, state, expected
):
    queue = queues["ae_standard"]
    kim = AeUserFactory(first_name="Kim", last_name="Lee")
    if state == "taken":
        item = held(queue, kim)
    else:
        item = QueueAssignmentFactory(queue=queue, status=state, assigned_to=kim)
    history = item.history.count()
    client.force_login(ae_user)

    response = client.post(action_url(item, "claim"), headers=HTMX)

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#queue-lists"
    assert expected in response.text
    item.refresh_from_db()
    assert (item.status, item.assigned_to) == (state if state != "taken" else S.ASSIGNED, kim)
    assert item.history.count() == history


@pytest.mark.parametrize("make_user", [IcUserFactory, OpsUserFactory, ComplianceUserFactory])
def test_claiming_from_a_queue_of_another_role_is_forbidden(client, queues, make_user):
    item = waiting(queues["ae_standard"])
    client.force_login(make_user())

    response = client.post(action_url(item, "claim"), headers=HTMX)

    assert response.status_code == 403
    assert QueueAssignment.objects.get(pk=item.pk).status == S.QUEUED


def test_the_claim_service_refuses_an_agent_of_another_role(queues):
    item = waiting(queues["ae_standard"])
    with pytest.raises(checks.ActionForbidden):
        claims.assignment_claim(assignment=item, actor=IcUserFactory())
    assert QueueAssignment.objects.get(pk=item.pk).status == S.QUEUED


def test_claiming_at_the_limit_is_refused(client, queues):
    agent = AeUserFactory(max_open_assignments=1)
    held(queues["ae_standard"], agent)
    item = waiting(queues["ae_standard"])
    client.force_login(agent)

    response = client.post(action_url(item, "claim"), headers=HTMX)

    assert response.status_code == 422
    assert checks.AT_CAPACITY in response.text
    assert QueueAssignment.objects.get(pk=item.pk).status == S.QUEUED


# --- claim next -----------------------------------------------------------------------------


def test_claim_next_is_disabled_with_the_reason_when_nothing_waits(client, queues, ae_user):
    held(queues["ae_standard"], ae_user)
    client.force_login(ae_user)

    page = client.get(queue_url("ae_standard")).text

    assert 'disabled aria-describedby="claim-next-why">Claim next</button>' in page
    assert f'<small id="claim-next-why">{views.CLAIM_NEXT_DISABLED}</small>' in page

    waiting(queues["ae_standard"])
    page = client.get(queue_url("ae_standard")).text
    assert 'type="submit" class="auto-width">Claim next</button>' in page
    assert "claim-next-why" not in page


# --- filters, search, sort ------------------------------------------------------------------


def test_escalated_items_stay_visible_with_who_holds_them(client, queues, ae_user):
    item = held(queues["ae_standard"], AeUserFactory(first_name="Kim", last_name="Lee"))
    item.reason = "Needs a manager"
    item.save_base(update_fields=["reason"])
    QueueAssignment.objects.filter(pk=item.pk).update(status=S.ESCALATED)  # test set-up only
    client.force_login(ae_user)

    page = client.get(queue_url("ae_standard")).text
    assert "Escalated (1)" in page
    escalated = client.get(queue_url("ae_standard"), {"status": "escalated"}).text

    row = escalated.split(f'id="item-{item.pk}"')[1].split("</tr>")[0]
    assert "Escalated" in row and "Kim Lee" in row and "Needs a manager" in row
    assert "Claim</button>" not in row


def test_filter_by_assignee_and_cohort(client, queues, ae_user):
    queue = queues["ae_standard"]
    kim = AeUserFactory(first_name="Kim", last_name="Lee")
    mine = held(queue, ae_user)
    kims = held(queue, kim)
    assisted = waiting(queue, "Assisted Co", cohort="assisted")
    managed = waiting(queue, "Managed Co", cohort="managed")
    client.force_login(ae_user)

    def ids(**params):
        return set(_ids(client.get(queue_url("ae_standard"), params).text))

    assert ids(assignee="me") == {str(mine.pk)}
    assert ids(assignee=str(kim.pk)) == {str(kims.pk)}
    assert ids(assignee="others") == {str(kims.pk)}
    assert ids(assignee="none") == {str(assisted.pk), str(managed.pk)}
    assert ids(cohort="managed") == {str(managed.pk)}
    assert ids(status="assigned", assignee="me") == {str(mine.pk)}


def test_search_by_business_or_contact_name(client, queues, ae_user):
    queue = queues["ae_standard"]
    bakery = waiting(queue, "Sunrise Bakery", first_name="Ana", last_name="Silva")
    golf = waiting(queue, "Harbor Golf Club", first_name="Tom", last_name="Reed")
    client.force_login(ae_user)

    def ids(q):
        return _ids(client.get(queue_url("ae_standard"), {"q": q}).text)

    assert ids("sunrise") == [str(bakery.pk)]
    assert ids("Ana Silva") == [str(bakery.pk)]
    assert ids("reed") == [str(golf.pk)]
    page = client.get(queue_url("ae_standard"), {"q": "nobody here"}).text
    assert "No item matches these filters." in page


def test_sort_by_priority_age_or_sla(client, queues, ae_user):
    queue = queues["ae_standard"]
    now = timezone.now()
    old_low = waiting(
        queue,
        "Old",
        priority=1,
        queued_at=now - timedelta(hours=5),
        sla_due_at=now + timedelta(hours=3),
    )
    new_high = waiting(
        queue,
        "New",
        priority=90,
        queued_at=now - timedelta(minutes=5),
        sla_due_at=now + timedelta(hours=2),
    )
    due_first = waiting(
        queue,
        "Due",
        priority=50,
        queued_at=now - timedelta(hours=1),
        sla_due_at=now - timedelta(minutes=25),
    )
    client.force_login(ae_user)

    def order(sort):
        return _ids(client.get(queue_url("ae_standard"), {"sort": sort}).text)

    assert order("priority") == [str(i.pk) for i in (new_high, due_first, old_low)]
    assert order("age") == [str(i.pk) for i in (old_low, due_first, new_high)]
    assert order("sla") == [str(i.pk) for i in (due_first, new_high, old_low)]
    page = client.get(queue_url("ae_standard"), {"sort": "sla"}).text
    assert "Breached 25 min ago" in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "<script>alert(1)</script>"}, FILTER_INVALID["status"].split("“")[0]),
        ({"sort": "priority; DROP TABLE leads"}, FILTER_INVALID["sort"].split("“")[0]),
        ({"assignee": "not-a-uuid"}, FILTER_INVALID["assignee"].split("“")[0]),
        ({"assignee": "00000000-0000-0000-0000-000000000000"}, "Unknown assignee"),
        ({"cohort": "vip"}, FILTER_INVALID["cohort"].split("“")[0]),
        ({"q": "x" * 5000}, FILTER_INVALID["q"]),
        ({"status": ["open", "queued", "x"]}, None),
    ],
    ids=[
        "status-html",
        "sort-sql",
        "assignee-text",
        "assignee-unknown",
        "cohort",
        "huge-q",
        "repeated",
    ],
)
def test_hostile_filter_values_get_a_clear_message_and_a_400(
    client, queues, ae_user, params, message
):
    item = waiting(queues["ae_standard"])
    client.force_login(ae_user)

    response = client.get(queue_url("ae_standard"), params)

    if message is None:  # the last value of a repeated parameter wins, like any form
        assert response.status_code == 400
        return
    assert response.status_code == 400
    assert message in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert f'id="item-{item.pk}"' in response.text  # the list still shows, unfiltered
    lists = client.get(
        queue_url("ae_standard"), params, headers={**HTMX, "HX-Target": "queue-lists"}
    )
    assert lists.status_code == 400


@pytest.mark.parametrize("page", ["abc", "-1", "999999", "1e9"])
def test_odd_page_numbers_show_a_page(client, queues, ae_user, page):
    waiting(queues["ae_standard"])
    client.force_login(ae_user)
    assert client.get(queue_url("ae_standard"), {"page": page}).status_code == 200


def test_a_nul_byte_in_a_filter_is_a_400(client, queues, ae_user):
    client.force_login(ae_user)
    assert client.get(queue_url("ae_standard"), {"q": "a\x00b"}).status_code == 400


# --- cost -----------------------------------------------------------------------------------


def test_filtered_pages_and_the_item_page_cost_the_same_queries_for_10_or_500_items(
    client, queues, ae_user
):
    queue = queues["ae_standard"]
    other = AeUserFactory()
    client.force_login(ae_user)
    urls = [
        queue_url(queue.code) + "?q=shop&sort=sla",
        queue_url(queue.code) + "?status=queued&cohort=assisted&sort=age",
        queue_url(queue.code) + f"?assignee={other.pk}",
    ]
    _bulk_items(queue, 10, agent=ae_user, other=other)
    item = QueueAssignment.objects.filter(queue=queue, assigned_to=ae_user).first()
    few = [_queries(client, url) for url in urls] + [_queries(client, item_url(item))]

    _bulk_items(queue, 490, agent=ae_user, other=other)

    many = [_queries(client, url) for url in urls] + [_queries(client, item_url(item))]
    assert many == few
