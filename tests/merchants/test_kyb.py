"""Step 3: the KYB page (/kyb/), its validation and masking, and the whole KYB flow through
the outbox, the sandbox payments provider and its `kyb.decision` webhook."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.compliance.models import KybKycAuditLog
from apps.core.errors import DomainError, TransitionRefused
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    SandboxLedgerEntry,
    SyncStatus,
    WebhookEvent,
    WebhookStatus,
)
from apps.integrations.providers.sandbox import KYB_REJECTED_REASON, sandbox_fail
from apps.integrations.tasks import sandbox_webhook_send
from apps.leads.models import LeadStatus
from apps.merchants.choices import CheckStatus
from apps.merchants.forms_onboarding import (
    EIN_CHANGE_HINT,
    EIN_FORMAT,
    EIN_PREFIX,
    EIN_REQUIRED,
    POSTAL_CODE_INVALID,
)
from apps.merchants.handlers import (
    IGNORED_IN_REVIEW,
    IGNORED_NOT_OUTSTANDING,
    IGNORED_OTHER_CHECK,
)
from apps.merchants.models import Merchant
from apps.merchants.selectors.kyb import (
    KYB_APPROVED,
    KYB_DELAYED,
    KYB_FIX_ACTION,
    KYB_UNDER_REVIEW,
    KYB_VERIFYING,
)
from apps.merchants.services import kyb
from apps.merchants.views.kyb import KYB_SUBMITTED
from apps.progress.models import StepStatus
from apps.routing.models import AssignmentStatus, QueueAssignment
from tests.accounts.factories import ComplianceUserFactory
from tests.merchants.factories import MerchantFactory, account_created_merchant
from tests.routing.factories import seeded_queues

KYB = reverse("merchants:kyb")
DASHBOARD = reverse("merchants:dashboard")
APPROVED_EIN = "12-3456789"
REJECTED_EIN = "12-3450000"
REVIEW_EIN = "12-3459999"

C = CheckStatus


def details(**overrides) -> dict:
    data = {
        "business_structure": "llc",
        "legal_business_name": "Copper Bistro LLC",
        "ein": APPROVED_EIN,
        "registered_address_line1": "1 Market St",
        "registered_address_line2": "",
        "registered_city": "San Francisco",
        "registered_state": "CA",
        "registered_postal_code": "94105",
        "registered_country": "US",
    }
    data.update(overrides)
    return data


def step_status(merchant, step_id: int) -> str:
    return merchant.step_progress.get(step_id=step_id).status


def signed_in(client, merchant):
    client.force_login(merchant.user)
    return client


# --- the form -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_form_asks_for_the_ein_until_one_is_stored(client, journey_steps):
    merchant = account_created_merchant(business_name="Copper Bistro")
    page = signed_in(client, merchant).get(KYB).text

    assert 'name="ein"' in page
    assert 'value="Copper Bistro"' in page
    assert "Submit for verification" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"ein": "00-1234567"}, "ein", EIN_PREFIX),
        ({"ein": "12-34567"}, "ein", EIN_FORMAT),
        ({"ein": "12-34567890"}, "ein", EIN_FORMAT),
        ({"ein": "ab-cdefghi"}, "ein", EIN_FORMAT),
        ({"ein": ""}, "ein", EIN_REQUIRED),
        ({"registered_postal_code": "9410"}, "registered_postal_code", POSTAL_CODE_INVALID),
        ({"registered_postal_code": "94105-12"}, "registered_postal_code", POSTAL_CODE_INVALID),
        ({"registered_postal_code": "ABCDE"}, "registered_postal_code", POSTAL_CODE_INVALID),
        ({"registered_state": "ZZ"}, "registered_state", "Select a valid choice"),
        ({"registered_country": "FR"}, "registered_country", "Select a valid choice"),
        ({"business_structure": "trust"}, "business_structure", "Select a valid choice"),
        ({"legal_business_name": ""}, "legal_business_name", "This field is required"),
        ({"registered_city": ""}, "registered_city", "This field is required"),
    ],
    ids=[
        "ein-bad-prefix",
        "ein-too-short",
        "ein-too-long",
        "ein-letters",
        "ein-missing",
        "zip-4-digits",
        "zip-plus-2",
        "zip-letters",
        "unknown-state",
        "not-us",
        "unknown-structure",
        "no-legal-name",
        "no-city",
    ],
)
def test_bad_input_is_refused_with_the_field_error_and_nothing_saved(
    client, journey_steps, overrides, field, message
):
    merchant = account_created_merchant()
    history = merchant.history.count()

    response = signed_in(client, merchant).post(KYB, details(**overrides))

    assert response.status_code == 422
    assert f'id="id_{field}-error"' in response.text
    assert message in response.text
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.PENDING
    assert merchant.ein_hash is None
    assert merchant.registered_address_line1 == ""
    assert merchant.history.count() == history
    assert step_status(merchant, 3) == StepStatus.PENDING
    assert not IntegrationEvent.objects.filter(event_type="merchant.kyb_submitted").exists()


@pytest.mark.django_db
def test_an_ein_another_business_has_is_refused_on_the_ein_field(client, journey_steps):
    MerchantFactory(ein=APPROVED_EIN)
    merchant = account_created_merchant()

    response = signed_in(client, merchant).post(KYB, details(ein="123456789"))

    assert response.status_code == 422
    assert 'id="id_ein-error"' in response.text
    assert kyb.EIN_TAKEN in response.text
    merchant.refresh_from_db()
    assert (merchant.kyb_status, merchant.ein_hash) == (C.PENDING, None)


@pytest.mark.django_db
def test_a_duplicate_ein_that_slips_past_the_check_is_refused_by_the_unique_key(
    journey_steps, monkeypatch
):
    MerchantFactory(ein=APPROVED_EIN)
    merchant = account_created_merchant()
    # A concurrent request stored the EIN between the check and the save.
    monkeypatch.setattr(kyb, "ein_taken", lambda **kwargs: False)

    with pytest.raises(DomainError) as refused:
        kyb.merchant_kyb_details_save(merchant=merchant, actor=None, ein=APPROVED_EIN)

    assert refused.value.code == "ein_taken"
    assert Merchant.objects.get(pk=merchant.pk).ein_hash is None


@pytest.mark.django_db
def test_htmx_form_errors_come_back_as_a_422_partial_retargeted_at_the_form(client, journey_steps):
    merchant = account_created_merchant()

    response = signed_in(client, merchant).post(
        KYB, details(registered_postal_code="1"), headers={"HX-Request": "true"}
    )

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#kyb"
    assert response["HX-Reswap"] == "outerHTML"
    assert response.text.strip().startswith('<section id="kyb"')
    assert "<html" not in response.text


@pytest.mark.django_db
def test_a_typed_ein_is_not_sent_back_with_other_errors(client, journey_steps):
    merchant = account_created_merchant()

    response = signed_in(client, merchant).post(
        KYB, details(ein="98-7654321", registered_postal_code="1")
    )

    assert response.status_code == 422
    assert "7654321" not in response.text
    assert "987654321" not in response.text


@pytest.mark.django_db
def test_the_service_refuses_changes_while_kyb_is_being_verified(journey_steps):
    merchant = MerchantFactory(kyb_status=C.SUBMITTED)
    with pytest.raises(TransitionRefused, match="being verified"):
        kyb.merchant_kyb_details_save(
            merchant=merchant, actor=None, legal_business_name="Other"
        )
    assert Merchant.objects.get(pk=merchant.pk).legal_business_name != "Other"


@pytest.mark.django_db
def test_posting_while_being_verified_is_a_409_and_changes_nothing(client, journey_steps):
    merchant = MerchantFactory(kyb_status=C.SUBMITTED, legal_business_name="Stays")

    response = signed_in(client, merchant).post(KYB, details(legal_business_name="Changed"))

    assert response.status_code == 409
    assert kyb.KYB_BEING_VERIFIED in response.text
    assert Merchant.objects.get(pk=merchant.pk).legal_business_name == "Stays"


# --- the whole flow (transactional: on_commit, the outbox and the sandbox webhooks run) -----------

flow = pytest.mark.django_db(transaction=True)


@flow
def test_approved_kyb_qualifies_the_lead_and_moves_the_journey_to_step_four(client, journey_steps):
    merchant = account_created_merchant()

    response = signed_in(client, merchant).post(KYB, details(), follow=True)

    assert response.redirect_chain == [(KYB, 302)]
    assert KYB_SUBMITTED in response.text
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.APPROVED
    assert merchant.lead.status == LeadStatus.QUALIFIED
    assert step_status(merchant, 3) == StepStatus.COMPLETED
    assert step_status(merchant, 4) == StepStatus.IN_PROGRESS
    assert merchant.current_step == 4
    assert KYB_APPROVED in client.get(KYB).text


@flow
def test_the_check_goes_to_the_payments_provider_once_with_the_event_as_key(client, journey_steps):
    merchant = account_created_merchant()
    signed_in(client, merchant).post(KYB, details())

    event = IntegrationEvent.objects.get(event_type="merchant.kyb_submitted")
    assert event.published
    sync = ExternalSystemSync.objects.get(entity_type="merchant_kyb", entity_id=merchant.pk)
    assert sync.external_system == "payments"
    assert sync.sync_status == SyncStatus.SYNCED
    ledger = SandboxLedgerEntry.objects.get(system="payments", operation="submit_kyb")
    assert ledger.idempotency_key == str(event.pk)
    assert sync.external_entity_id == ledger.response["check_id"]
    assert ledger.request["ein"] == "***6789"


@flow
def test_every_decision_writes_an_audit_row_with_the_masked_request(client, journey_steps):
    merchant = account_created_merchant()
    signed_in(client, merchant).post(KYB, details())

    audit = KybKycAuditLog.objects.get(merchant=merchant)
    assert (audit.check_type, audit.decision) == ("kyb", "approved")
    assert audit.check_provider == "sandbox"
    assert audit.check_reference.startswith("kyb_")
    assert audit.risk_score == Decimal("12")
    assert audit.reviewed_by is None
    assert audit.response_payload["decision"] == "approved"
    assert audit.request_payload["ein_last4"] == "6789"
    everything = json.dumps([audit.request_payload, audit.response_payload])
    assert "456789" not in everything


@flow
def test_a_rejection_shows_the_reason_and_the_merchant_resubmits(client, journey_steps):
    merchant = account_created_merchant()
    client = signed_in(client, merchant)
    client.post(KYB, details(ein=REJECTED_EIN))

    merchant.refresh_from_db()
    assert merchant.kyb_status == C.REJECTED
    assert merchant.kyb_rejection_reason == KYB_REJECTED_REASON
    assert step_status(merchant, 3) == StepStatus.FAILED
    kyb_page, dashboard = client.get(KYB).text, client.get(DASHBOARD).text
    for page in (kyb_page, dashboard):
        assert KYB_REJECTED_REASON in page
    assert KYB_FIX_ACTION in dashboard  # the fix link names what to check
    assert 'href="/kyb/#id_ein"' in dashboard
    assert EIN_CHANGE_HINT.format(masked="•••• 0000") in kyb_page
    assert "3450000" not in kyb_page

    client.post(KYB, details(ein=APPROVED_EIN, registered_address_line1="2 Market St"))

    merchant.refresh_from_db()
    assert merchant.kyb_status == C.APPROVED
    assert merchant.registered_address_line1 == "2 Market St"
    assert step_status(merchant, 3) == StepStatus.COMPLETED
    decisions = KybKycAuditLog.objects.filter(merchant=merchant).order_by("completed_at")
    assert [row.decision for row in decisions] == ["rejected", "approved"]


@flow
def test_a_resubmission_may_keep_the_stored_ein(client, journey_steps):
    merchant = account_created_merchant()
    client = signed_in(client, merchant)
    client.post(KYB, details(ein=REJECTED_EIN))

    response = client.post(KYB, details(ein=""))

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.REJECTED  # the same EIN is rejected again
    assert KybKycAuditLog.objects.filter(merchant=merchant).count() == 2
    assert merchant.step_progress.get(step_id=3).error_count == 2


@flow
def test_review_required_is_said_and_queued_for_compliance(client, journey_steps):
    seeded_queues()
    merchant = account_created_merchant()
    client = signed_in(client, merchant)
    client.post(KYB, details(ein=REVIEW_EIN))

    merchant.refresh_from_db()
    assert merchant.kyb_status == C.REVIEW_REQUIRED
    assert step_status(merchant, 3) == StepStatus.IN_PROGRESS
    item = QueueAssignment.objects.get(merchant=merchant)
    assert (item.queue.code, item.status) == ("compliance_review", AssignmentStatus.QUEUED)
    kyb_page = client.get(KYB).text
    assert KYB_UNDER_REVIEW in kyb_page
    assert 'hx-trigger="every 5s"' in kyb_page
    assert KYB_UNDER_REVIEW in client.get(DASHBOARD).text
    assert KybKycAuditLog.objects.get(merchant=merchant).decision == "review_required"


@flow
def test_compliance_approves_a_review_and_the_journey_moves_on(client, journey_steps):
    seeded_queues()
    merchant = account_created_merchant()
    signed_in(client, merchant).post(KYB, details(ein=REVIEW_EIN))
    reviewer = ComplianceUserFactory()

    kyb.merchant_kyb_review_decide(
        merchant=Merchant.objects.get(pk=merchant.pk),
        decision=C.APPROVED,
        notes="Articles of organization match",
        actor=reviewer,
    )

    merchant.refresh_from_db()
    assert merchant.kyb_status == C.APPROVED
    assert merchant.lead.status == LeadStatus.QUALIFIED
    assert step_status(merchant, 3) == StepStatus.COMPLETED
    assert step_status(merchant, 4) == StepStatus.IN_PROGRESS
    item = QueueAssignment.objects.get(merchant=merchant)
    assert (item.status, item.assigned_to) == (AssignmentStatus.RESOLVED, reviewer)
    rows = KybKycAuditLog.objects.filter(merchant=merchant).order_by("completed_at")
    assert [(r.decision, r.reviewed_by) for r in rows] == [
        ("review_required", None),
        ("approved", reviewer),
    ]
    assert rows[1].reviewer_notes == "Articles of organization match"


@flow
def test_the_page_polls_while_verifying_and_says_when_the_provider_is_slow(client, journey_steps):
    merchant = account_created_merchant()
    client = signed_in(client, merchant)
    sandbox_fail("payments", "submit_kyb", times=None)

    client.post(KYB, details())

    merchant.refresh_from_db()
    assert merchant.kyb_status == C.SUBMITTED
    poll = client.get(KYB, headers={"HX-Request": "true"})
    assert poll.text.strip().startswith('<section id="kyb"')
    assert 'hx-trigger="every 5s"' in poll.text
    assert KYB_VERIFYING in poll.text
    assert KYB_DELAYED in poll.text  # the provider is down: we keep trying


@flow
def test_a_provider_outage_delays_the_decision_without_losing_it(client, journey_steps):
    from apps.integrations.delivery import sync_retry
    from apps.integrations.providers.sandbox import sandbox_clear_faults

    merchant = account_created_merchant()
    sandbox_fail("payments", "submit_kyb", times=1)
    signed_in(client, merchant).post(KYB, details())
    sync = ExternalSystemSync.objects.get(entity_type="merchant_kyb", entity_id=merchant.pk)
    assert sync.sync_status == SyncStatus.FAILED

    sandbox_clear_faults()
    sync_retry(sync=sync)

    merchant.refresh_from_db()
    assert merchant.kyb_status == C.APPROVED
    poll = client.get(KYB, headers={"HX-Request": "true"})
    assert "every 5s" not in poll.text


@flow
def test_a_decision_delivered_again_is_ignored(client, journey_steps):
    merchant = account_created_merchant()
    signed_in(client, merchant).post(KYB, details())
    webhook = WebhookEvent.objects.get(event_type="kyb.decision")
    replay = {**webhook.payload, "id": webhook.payload["id"] + "-again"}

    sandbox_webhook_send("payments", json.dumps(replay))

    again = WebhookEvent.objects.get(external_id=replay["id"])
    assert again.status == WebhookStatus.PROCESSED
    assert KybKycAuditLog.objects.filter(merchant=merchant).count() == 1


def _decision(merchant, *, event_id: str, check_id: str, decision: str = "approved") -> str:
    """A kyb.decision webhook, validly signed (as anyone holding the secret could send it)."""
    body = {
        "id": event_id,
        "type": "kyb.decision",
        "data": {
            "merchant_id": str(merchant.pk),
            "check_id": check_id,
            "decision": decision,
            "reason": "",
            "risk_score": 10,
        },
    }
    sandbox_webhook_send("payments", json.dumps(body))
    return event_id


@flow
def test_a_provider_approval_never_moves_a_case_in_compliance_review(client, journey_steps):
    seeded_queues()
    merchant = account_created_merchant()
    signed_in(client, merchant).post(KYB, details(ein=REVIEW_EIN))
    sent = ExternalSystemSync.objects.get(entity_id=merchant.pk).external_entity_id

    event_id = _decision(merchant, event_id="evt_forged", check_id=sent)

    webhook = WebhookEvent.objects.get(external_id=event_id)
    assert webhook.status == WebhookStatus.PROCESSED
    assert webhook.ignored_reason == IGNORED_IN_REVIEW.format(check="KYB")
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.REVIEW_REQUIRED
    assert QueueAssignment.objects.get(merchant=merchant).status == AssignmentStatus.QUEUED
    assert [row.decision for row in KybKycAuditLog.objects.filter(merchant=merchant)] == [
        "review_required"
    ]


@flow
def test_a_decision_for_a_check_we_never_sent_is_ignored(client, journey_steps):
    merchant = account_created_merchant()
    sandbox_fail("payments", "submit_kyb", times=1)
    signed_in(client, merchant).post(KYB, details())
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.SUBMITTED  # waiting, but its check never reached them

    event_id = _decision(merchant, event_id="evt_unsent", check_id="kyb_made_up")

    webhook = WebhookEvent.objects.get(external_id=event_id)
    assert webhook.ignored_reason == IGNORED_OTHER_CHECK.format(
        check="KYB", check_id="kyb_made_up", sent="none recorded"
    )
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.SUBMITTED
    assert not KybKycAuditLog.objects.exists()


@flow
def test_a_decision_for_a_merchant_not_waiting_for_one_is_ignored(journey_steps):
    merchant = account_created_merchant()  # KYB pending: never submitted
    body = {
        "id": "evt_stray",
        "type": "kyb.decision",
        "data": {
            "merchant_id": str(merchant.pk),
            "check_id": "kyb_stray",
            "decision": "approved",
            "reason": "",
            "risk_score": 10,
        },
    }

    sandbox_webhook_send("payments", json.dumps(body))

    webhook = WebhookEvent.objects.get(external_id="evt_stray")
    assert webhook.status == WebhookStatus.PROCESSED
    assert webhook.ignored_reason == IGNORED_NOT_OUTSTANDING.format(check="KYB", status="pending")
    merchant.refresh_from_db()
    assert merchant.kyb_status == C.PENDING
    assert not KybKycAuditLog.objects.exists()


@flow
def test_a_decision_the_provider_does_not_define_is_kept_as_failed_for_ops(journey_steps):
    merchant = MerchantFactory(kyb_status=C.SUBMITTED)
    body = {
        "id": "evt_odd",
        "type": "kyb.decision",
        "data": {"merchant_id": str(merchant.pk), "check_id": "kyb_odd", "decision": "maybe"},
    }

    sandbox_webhook_send("payments", json.dumps(body))

    webhook = WebhookEvent.objects.get(external_id="evt_odd")
    assert webhook.status == WebhookStatus.FAILED
    assert "maybe" in webhook.error
    assert Merchant.objects.get(pk=merchant.pk).kyb_status == C.SUBMITTED


# --- PII ------------------------------------------------------------------------------------------


@flow
def test_the_ein_is_never_rendered_unmasked_after_entry(client, journey_steps):
    merchant = account_created_merchant()
    client = signed_in(client, merchant)
    client.post(KYB, details(ein="98-7654321"))

    for url in (KYB, DASHBOARD):
        page = client.get(url).text
        assert "987654321" not in page
        assert "98-7654321" not in page
        assert "7654321" not in page
    assert "•••• 4321" in client.get(KYB).text
