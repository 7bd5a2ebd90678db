"""/staff/compliance/ reviews KYB and KYC together: one list of cases (merchant, what is
reviewed, why flagged, age against the review SLA) whose counts agree with the compliance
queue, a page per case, and each person's KYC decided with notes through the decision
service, the case leaving the queue in the same transaction."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from apps.compliance import views
from apps.compliance.models import KybKycAuditLog
from apps.merchants.choices import CheckStatus
from apps.merchants.models import MerchantPerson
from apps.merchants.services import decisions, kyb, kyc
from apps.routing.models import AssignmentStatus, QueueAssignment
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    MerchantUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.compliance.test_review import under_review
from tests.merchants.factories import MerchantPersonFactory, merchant_at_setup
from tests.routing.factories import seeded_queues

pytestmark = pytest.mark.django_db

C = CheckStatus
HTMX = {"HX-Request": "true"}
REVIEW = reverse("compliance:review")


def kyc_under_review(*names: str, merchant=None) -> list[MerchantPerson]:
    """Persons (one per name) whose KYC the provider sent to review, their merchant queued
    for compliance once (seeded_queues() first)."""
    merchant = merchant or merchant_at_setup()
    persons = [
        MerchantPersonFactory(merchant=merchant, first_name=name, last_name="Okafor", ssn=ssn)
        for name, ssn in zip(names, [f"12{n}-45-9999" for n in range(len(names))], strict=True)
    ]
    kyc.merchant_kyc_submit(merchant=merchant, actor=merchant.user)
    for person in persons:
        person.refresh_from_db()
        if person.kyc_status != C.SUBMITTED:
            continue  # the sandbox provider answered already (browser tests run on_commit)
        kyc.person_kyc_provider_decide(
            person=person,
            decision=C.REVIEW_REQUIRED,
            check_id=f"kyc_check_{person.pk.hex[:8]}",
            reason="Identity document unreadable",
            risk_score=61,
            response_payload={"decision": "review_required", "document": "blurred"},
        )
    return [MerchantPerson.objects.select_related("merchant").get(pk=p.pk) for p in persons]


def case_url(kind, pk) -> str:
    return reverse("compliance:case", args=[kind, pk])


def decide_url(kind, pk) -> str:
    return reverse("compliance:case_decide", args=[kind, pk])


def open_items(merchant):
    return QueueAssignment.objects.filter(
        merchant=merchant, queue__code=decisions.REVIEW_QUEUE, status__in=["queued", "assigned"]
    )


# --- role × URL -----------------------------------------------------------------------------

ROLES = [
    (MerchantUserFactory, 403),
    (AeUserFactory, 403),
    (IcUserFactory, 403),
    (OpsUserFactory, 403),
    (UserFactory, 403),
    (ComplianceUserFactory, "ok"),
    (lambda: UserFactory(is_superuser=True, is_staff=True), "ok"),
]
ROLE_IDS = ["merchant", "ae", "ic", "ops", "no-role", "compliance", "superuser"]


@pytest.mark.parametrize(("make_user", "expected"), ROLES, ids=ROLE_IDS)
@pytest.mark.parametrize("target", ["kyc-page", "kyb-page", "kyc-decide"])
def test_only_compliance_reaches_the_case_pages(client, journey_steps, make_user, expected, target):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    merchant = under_review()
    method, url, ok = {
        "kyc-page": ("get", case_url("kyc", person.pk), 200),
        "kyb-page": ("get", case_url("kyb", merchant.pk), 200),
        "kyc-decide": ("post", decide_url("kyc", person.pk), 302),
    }[target]
    client.force_login(make_user())

    response = getattr(client, method)(url, {"decision": "approved", "notes": "Passport ok"})

    assert response.status_code == (ok if expected == "ok" else expected)
    if expected != "ok":
        assert MerchantPerson.objects.get(pk=person.pk).kyc_status == C.REVIEW_REQUIRED


@pytest.mark.parametrize("target", ["kyc-page", "kyc-decide"])
def test_an_anonymous_visitor_is_sent_to_sign_in(client, journey_steps, target):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    url = case_url("kyc", person.pk) if target == "kyc-page" else decide_url("kyc", person.pk)

    response = (client.get if target == "kyc-page" else client.post)(url)

    assert response.status_code == 302
    assert response.url.startswith(f"{reverse('accounts:login')}?next=")


@pytest.mark.parametrize(
    ("kind", "subject"),
    [("kyc", "00000000-0000-0000-0000-000000000000"), ("aml", None), ("kyb", None)],
    ids=["unknown-person", "unknown-kind", "unknown-merchant"],
)
def test_an_unknown_case_is_a_404(client, compliance_user, kind, subject):
    client.force_login(compliance_user)
    subject = subject or "00000000-0000-0000-0000-000000000000"
    assert client.get(case_url(kind, subject)).status_code == 404
    assert client.post(decide_url(kind, subject), {"decision": "approved"}).status_code == 404


# --- the list -------------------------------------------------------------------------------


def test_kyb_and_kyc_cases_are_listed_together_and_agree_with_the_queue(
    client, journey_steps, compliance_user
):
    seeded_queues()
    business = under_review(business_name="Review Me Bistro")
    maya, ola = kyc_under_review("Maya", "Ola")
    client.force_login(compliance_user)

    page = client.get(REVIEW).text

    kyc_row = page.split(f'id="case-kyc-{maya.pk}"')[1].split("</tr>")[0]
    assert "Maya Okafor · representative (KYC)" in kyc_row
    assert "Identity document unreadable (risk score 61)" in kyc_row
    assert f'href="{reverse("staff:merchant", args=[maya.merchant_id])}"' in kyc_row
    assert f'href="{case_url("kyc", maya.pk)}"' in kyc_row
    assert "Due in 24 h" in kyc_row
    assert f'id="case-kyc-{ola.pk}"' in page
    assert f'id="case-kyb-{business.pk}"' in page
    # Three cases at two merchants: one open queue item per merchant.
    assert "3 cases at 2 merchants · compliance queue: 2 open items" in page
    assert QueueAssignment.objects.filter(queue__code=decisions.REVIEW_QUEUE).count() == 2
    assert "Check</span>" not in page


def test_a_merchant_under_review_without_a_queue_item_is_pointed_out(
    client, journey_steps, compliance_user
):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    QueueAssignment.objects.filter(merchant=person.merchant).delete()
    client.force_login(compliance_user)

    page = client.get(REVIEW).text

    assert "1 case at 1 merchant · compliance queue: 0 open items" in page
    assert "some cases are missing from the queue" in page
    assert "not in the queue" in page


def test_the_list_costs_the_same_queries_for_2_or_10_cases(client, journey_steps, compliance_user):
    seeded_queues()
    client.force_login(compliance_user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(REVIEW).status_code == 200
        return len(context.captured_queries)

    kyc_under_review("A")
    under_review(ein="12-34000999")
    few = queries()
    kyc_under_review("B", "C", "D")
    kyc_under_review("E", "F")
    for n in range(1, 4):
        under_review(ein=f"12-34{n:03d}9999")

    assert queries() == few


# --- a case ---------------------------------------------------------------------------------


def test_the_kyc_case_page_shows_what_the_provider_returned_and_the_history(
    client, journey_steps, compliance_user
):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    client.force_login(compliance_user)

    page = client.get(case_url("kyc", person.pk)).text

    assert "KYC: Maya Okafor" in page
    assert "Identity document unreadable" in page and "risk score 61" in page
    assert "blurred" in page  # the provider's response
    assert "person_kyc_submit" in page  # the person's history, with why
    assert person.ssn not in page and person.ssn_masked in page
    assert f'href="{reverse("staff:merchant", args=[person.merchant_id])}"' in page
    assert ">Approve</button>" in page


def test_approving_a_kyc_case_moves_the_person_on_and_closes_the_queue_item(
    client, journey_steps, compliance_user
):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    client.force_login(compliance_user)

    response = client.post(
        decide_url("kyc", person.pk),
        {"decision": "approved", "notes": "Passport checked by video call"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert views.DECIDED_KYC["approved"].format(name=person) in response.text
    assert "<form" not in response.text
    person.refresh_from_db()
    assert person.kyc_status == C.APPROVED
    assert person.merchant.kyc_status == C.APPROVED
    item = QueueAssignment.objects.get(merchant=person.merchant)
    assert (item.status, item.assigned_to) == (AssignmentStatus.RESOLVED, compliance_user)
    audit = KybKycAuditLog.objects.filter(person=person).order_by("-completed_at").first()
    assert (audit.decision, audit.reviewed_by) == ("approved", compliance_user)
    assert audit.reviewer_notes == "Passport checked by video call"
    assert person.history.first().history_user == compliance_user
    assert f'id="case-kyc-{person.pk}"' not in client.get(REVIEW).text


@pytest.mark.parametrize("notes", ["", "   "], ids=["empty", "blank"])
def test_a_kyc_decision_without_notes_is_refused_and_changes_nothing(
    client, journey_steps, compliance_user, notes
):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    client.force_login(compliance_user)

    response = client.post(
        decide_url("kyc", person.pk), {"decision": "approved", "notes": notes}, headers=HTMX
    )

    assert response.status_code == 422
    assert response["HX-Retarget"] == f"#case-kyc-{person.pk}"
    assert escape(decisions.NOTES_REQUIRED) in response.text
    assert MerchantPerson.objects.get(pk=person.pk).kyc_status == C.REVIEW_REQUIRED
    assert KybKycAuditLog.objects.filter(person=person).count() == 1
    assert open_items(person.merchant).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"decision": "maybe", "notes": "x"},
        {"decision": "review_required", "notes": "x"},
        {"decision": "approved", "notes": "x" * 5001},
        {"decision": "", "notes": "<script>alert(1)</script>"},
        {"decision": "approved", "notes": "ok\x00"},
    ],
    ids=["unknown", "not-a-review-decision", "huge-notes", "no-decision-html", "nul-byte"],
)
def test_hostile_kyc_decisions_are_refused_and_change_nothing(
    client, journey_steps, compliance_user, data
):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    client.force_login(compliance_user)

    response = client.post(decide_url("kyc", person.pk), data)

    assert response.status_code in (400, 422)
    assert "<script>alert(1)</script>" not in response.text
    assert MerchantPerson.objects.get(pk=person.pk).kyc_status == C.REVIEW_REQUIRED
    assert KybKycAuditLog.objects.filter(person=person).count() == 1


def test_the_queue_item_stays_open_until_every_case_of_the_merchant_is_decided(
    client, journey_steps, compliance_user
):
    seeded_queues()
    maya, ola = kyc_under_review("Maya", "Ola")
    client.force_login(compliance_user)

    client.post(decide_url("kyc", maya.pk), {"decision": "approved", "notes": "ok"})
    assert open_items(maya.merchant).count() == 1
    page = client.get(REVIEW).text
    assert "1 case at 1 merchant · compliance queue: 1 open item" in page

    client.post(decide_url("kyc", ola.pk), {"decision": "rejected", "notes": "Forged"})
    assert open_items(maya.merchant).count() == 0
    assert "0 cases at 0 merchants · compliance queue: 0 open items" in client.get(REVIEW).text


def test_a_kyb_decision_leaves_the_item_open_while_a_persons_kyc_waits(
    client, journey_steps, compliance_user
):
    seeded_queues()
    merchant = under_review()
    person = MerchantPersonFactory(merchant=merchant, first_name="Ola", last_name="Okafor")
    kyc.person_kyc_submit(person=person, actor=merchant.user)
    kyc.person_kyc_provider_decide(
        person=person, decision=C.REVIEW_REQUIRED, check_id="kyc_ola", reason="Mismatch"
    )
    client.force_login(compliance_user)

    client.post(
        reverse("compliance:kyb_decide", args=[merchant.pk]),
        {"decision": "approved", "notes": "Articles fine"},
    )

    assert open_items(merchant).count() == 1
    assert "1 case at 1 merchant · compliance queue: 1 open item" in client.get(REVIEW).text


def test_a_kyc_case_another_reviewer_has_taken_is_theirs_to_decide(
    client, journey_steps, compliance_user
):
    from apps.routing.services.claims import assignment_assign

    seeded_queues()
    (person,) = kyc_under_review("Maya")
    colleague = ComplianceUserFactory(email="kim@lightspeed.example")
    item = QueueAssignment.objects.get(merchant=person.merchant)
    assignment_assign(assignment=item, agent=colleague, actor=colleague)
    client.force_login(compliance_user)

    response = client.post(
        decide_url("kyc", person.pk), {"decision": "approved", "notes": "Fine"}, headers=HTMX
    )

    assert response.status_code == 409
    assert kyb.CASE_HELD_BY_OTHER.format(email="kim@lightspeed.example") in response.text
    assert MerchantPerson.objects.get(pk=person.pk).kyc_status == C.REVIEW_REQUIRED


def test_a_decided_kyc_case_is_refused_with_a_409(client, journey_steps, compliance_user):
    seeded_queues()
    (person,) = kyc_under_review("Maya")
    kyc.person_kyc_review_decide(
        person=person, decision="approved", notes="First", actor=compliance_user
    )
    client.force_login(compliance_user)

    response = client.post(
        decide_url("kyc", person.pk), {"decision": "rejected", "notes": "Second"}, headers=HTMX
    )

    assert response.status_code == 409
    assert decisions.NOT_UNDER_REVIEW in response.text
    assert MerchantPerson.objects.get(pk=person.pk).kyc_status == C.APPROVED
