"""Step 7 at /kyc/: persons (representatives and owners), their KYC through the payments
provider (sandbox: SSN ending 0001 rejected, 9999 review, 0000 invalid) and payments
activation (DESIGN.md rules 3, 9 and 10)."""

import html
import json
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.compliance.models import KybKycAuditLog
from apps.core.errors import DomainError
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    SandboxLedgerEntry,
    WebhookEvent,
)
from apps.integrations.providers import sandbox
from apps.integrations.tasks import sandbox_webhook_send
from apps.merchants import validators
from apps.merchants.choices import CheckStatus, PersonType
from apps.merchants.forms_setup import DOB_REQUIRED, SSN_REQUIRED
from apps.merchants.handlers import IGNORED_IN_REVIEW
from apps.merchants.models import MerchantPerson
from apps.merchants.services import decisions, kyc
from apps.merchants.views.kyc import KYC_SUBMITTED, PERSON_ADDED
from apps.progress.models import StepStatus
from apps.routing.models import AssignmentStatus, QueueAssignment
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    OpsUserFactory,
    UserFactory,
)
from tests.merchants.factories import MerchantPersonFactory, merchant_at_setup
from tests.routing.factories import seeded_queues

pytestmark = pytest.mark.django_db

KYC = reverse("merchants:kyc")
ADD = reverse("merchants:kyc_person_add")
SUBMIT = reverse("merchants:kyc_submit")
STATUS = reverse("merchants:kyc_status")
SSN = "123-45-6789"
DOB = "1980-05-17"
# Every way the SSN and the date of birth could show up in a page.
PII_FRAGMENTS = ("123-45-6789", "123456789", "123-45", "12345", "1980-05-17", "05/17/1980")


def text(response) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(response.content.decode())


def person_data(**overrides) -> dict:
    data = {
        "person_type": PersonType.BOTH,
        "first_name": "Maya",
        "last_name": "Okafor",
        "title": "CEO",
        "ownership_percentage": "100",
        "email": "maya@example.com",
        "phone": "+1 415 555 0101",
        "ssn": SSN,
        "date_of_birth": DOB,
        "address_line1": "1 Market St",
        "city": "San Francisco",
        "state": "CA",
        "postal_code": "94105",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def step(merchant, step_id):
    return merchant.step_progress.get(step_id=step_id)


def edit_url(person) -> str:
    return reverse("merchants:kyc_person_edit", args=[person.pk])


def remove_url(person) -> str:
    return reverse("merchants:kyc_person_remove", args=[person.pk])


@pytest.fixture
def merchant(journey_steps):
    return merchant_at_setup()


@pytest.fixture
def signed_in(client, merchant):
    client.force_login(merchant.user)
    return client


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what happens after commit (outbox → sandbox → webhook → decision), as the
    worker would, nested callbacks included."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


def submit_persons(client, run_on_commit, *persons_data):
    for data in persons_data:
        assert client.post(ADD, data).status_code == 302
    return run_on_commit(lambda: client.post(SUBMIT, follow=True))


# --- the step's gate --------------------------------------------------------------------------


def test_step_7_before_step_6_is_completed_explains_what_comes_first_and_changes_nothing(
    client, journey_steps
):
    merchant = merchant_at_setup(steps_done=(1, 2, 3, 4, 5))
    client.force_login(merchant.user)

    page = client.get(KYC)
    refused = client.post(ADD, person_data())

    assert page.status_code == 200
    assert "Step 7 opens once step 6 (Pay) is completed." in text(page)
    assert "Go to step 6: Pay" in text(page)
    assert 'name="ssn"' not in text(page)
    assert refused.status_code == 409
    assert not MerchantPerson.objects.exists()
    assert step(merchant, 7).status == StepStatus.PENDING


def test_submitting_before_step_6_is_refused_with_the_same_explanation(client, journey_steps):
    merchant = merchant_at_setup(steps_done=(1, 2, 3, 4, 5))
    MerchantPersonFactory(merchant=merchant)
    client.force_login(merchant.user)

    response = client.post(SUBMIT)

    assert response.status_code == 409
    assert "Step 7 opens once step 6" in text(response)
    assert MerchantPerson.objects.get().kyc_status == CheckStatus.PENDING


# --- adding persons ---------------------------------------------------------------------------


def test_adding_the_first_person_starts_step_7_and_lists_them(signed_in, merchant):
    response = signed_in.post(ADD, person_data(), follow=True)

    person = MerchantPerson.objects.get()
    assert (person.first_name, person.person_type) == ("Maya", PersonType.BOTH)
    assert person.ownership_percentage == Decimal("100.00")
    assert person.ssn == SSN
    assert person.date_of_birth == date(1980, 5, 17)
    assert person.history.first().history_user == merchant.user
    assert step(merchant, 7).status == StepStatus.IN_PROGRESS
    assert PERSON_ADDED.format(name="Maya Okafor") in text(response)
    assert f'id="person-{person.pk}"' in text(response)
    assert "Not submitted yet" in text(response)


def test_an_htmx_add_answers_with_the_section_only(signed_in):
    response = signed_in.post(ADD, person_data(), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert text(response).strip().startswith('<section id="kyc-main">')
    assert "<html" not in text(response)


def test_owners_above_100_percent_are_refused_naming_the_total(signed_in, merchant):
    MerchantPersonFactory(merchant=merchant, owner=True, ownership_percentage=Decimal("60.50"))

    response = signed_in.post(
        ADD, person_data(person_type=PersonType.OWNER, ownership_percentage="50")
    )

    assert response.status_code == 422
    assert kyc.OWNERS_TOTAL_OVER_100.format(total="110.50") in text(response)
    assert MerchantPerson.objects.count() == 1


def test_an_edit_counts_the_other_owners_only(signed_in, merchant):
    owner = MerchantPersonFactory(merchant=merchant, owner=True, ownership_percentage=Decimal(60))
    MerchantPersonFactory(merchant=merchant, owner=True, ownership_percentage=Decimal(40))

    raised = signed_in.post(edit_url(owner), person_data(ownership_percentage="61"))
    lowered = signed_in.post(edit_url(owner), person_data(ownership_percentage="55", ssn=""))

    assert raised.status_code == 422
    assert kyc.OWNERS_TOTAL_OVER_100.format(total="101.00") in text(raised)
    assert lowered.status_code == 302
    owner.refresh_from_db()
    assert owner.ownership_percentage == Decimal("55.00")


def test_the_service_refuses_owners_above_100_percent_too(merchant):
    MerchantPersonFactory(merchant=merchant, owner=True, ownership_percentage=Decimal(80))
    fields = {k: v for k, v in person_data(ownership_percentage=None).items()}
    fields.update(
        person_type=PersonType.OWNER,
        ownership_percentage=Decimal(30),
        date_of_birth=date(1980, 5, 17),
    )
    with pytest.raises(DomainError, match=r"110\.00"):
        kyc.person_add(merchant=merchant, actor=merchant.user, **fields)
    assert MerchantPerson.objects.count() == 1


def test_a_representative_holds_no_share_and_an_owner_must_say_theirs(signed_in):
    representative = signed_in.post(
        ADD, person_data(person_type=PersonType.REPRESENTATIVE, ownership_percentage="10")
    )
    owner = signed_in.post(
        ADD, person_data(person_type=PersonType.OWNER, ownership_percentage="")
    )

    assert representative.status_code == 422
    assert kyc.OWNERSHIP_ONLY_OWNERS in text(representative)
    assert owner.status_code == 422
    assert kyc.OWNERSHIP_REQUIRED in text(owner)
    assert not MerchantPerson.objects.exists()


@pytest.mark.parametrize(
    "ssn",
    [
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "912-12-3456",  # area 9xx
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000: the sandbox's "invalid" number
        "12345678",  # 8 digits
        "1234567890",  # 10 digits
        "123-45-678O",  # a letter
    ],
)
def test_an_invalid_ssn_is_refused(signed_in, ssn):
    response = signed_in.post(ADD, person_data(ssn=ssn))

    assert response.status_code == 422
    assert validators.SSN_INVALID in text(response)
    assert not MerchantPerson.objects.exists()


def test_an_ssn_ending_0000_never_reaches_the_provider(signed_in, merchant, run_on_commit):
    run_on_commit(lambda: signed_in.post(ADD, person_data(ssn="123-45-0000")))
    run_on_commit(lambda: signed_in.post(SUBMIT))
    with pytest.raises(DomainError, match=validators.SSN_INVALID):
        kyc.person_add(
            merchant=merchant,
            actor=merchant.user,
            **{**person_data(), "ssn": "123450000", "date_of_birth": date(1980, 5, 17)},
        )

    assert not MerchantPerson.objects.exists()
    assert not SandboxLedgerEntry.objects.filter(system="payments").exists()


@pytest.mark.parametrize(
    ("dob", "message"),
    [
        (date.today().replace(year=date.today().year - 17).isoformat(), validators.DOB_TOO_YOUNG),
        ("2999-01-01", validators.DOB_NOT_REAL),
        ("1850-01-01", validators.DOB_NOT_REAL),
    ],
)
def test_a_person_must_be_an_adult_with_a_real_birth_date(signed_in, dob, message):
    response = signed_in.post(ADD, person_data(date_of_birth=dob))

    assert response.status_code == 422
    assert message in text(response)
    assert not MerchantPerson.objects.exists()


def test_ssn_and_date_of_birth_are_required_for_a_new_person(signed_in):
    response = signed_in.post(ADD, person_data(ssn="", date_of_birth=""))

    assert response.status_code == 422
    assert SSN_REQUIRED in text(response)
    assert DOB_REQUIRED in text(response)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"person_type": "ceo"},
        {"ownership_percentage": "abc"},
        {"ownership_percentage": "100.001"},
        {"ownership_percentage": "-1"},
        {"ownership_percentage": "101"},
        {"email": "not-an-email"},
        {"date_of_birth": "17/05/1980x"},
        {"first_name": "x" * 101},
    ],
    ids=[
        "empty",
        "unknown-role",
        "share-not-a-number",
        "share-3-decimals",
        "share-negative",
        "share-over-100",
        "bad-email",
        "bad-date",
        "name-too-long",
    ],
)
def test_bad_input_is_a_422_that_saves_nothing(signed_in, data):
    response = signed_in.post(ADD, person_data(**data) if data else {})

    assert response.status_code == 422
    assert 'role="alert"' in text(response)
    assert not MerchantPerson.objects.exists()


def test_a_form_error_comes_back_to_htmx_as_a_retargeted_422(signed_in):
    response = signed_in.post(ADD, person_data(ssn="1"), headers={"HX-Request": "true"})

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#kyc-main"
    assert response["HX-Reswap"] == "outerHTML"
    assert validators.SSN_INVALID in text(response)


# --- submitting and the provider's decisions --------------------------------------------------


def test_submit_without_a_representative_is_refused(signed_in, merchant):
    owner = MerchantPersonFactory(merchant=merchant, owner=True)

    response = signed_in.post(SUBMIT)

    assert response.status_code == 422
    assert kyc.NO_REPRESENTATIVE in text(response)
    owner.refresh_from_db()
    assert owner.kyc_status == CheckStatus.PENDING


def test_submit_with_nobody_is_refused(signed_in):
    response = signed_in.post(SUBMIT)

    assert response.status_code == 422
    assert kyc.NO_PERSONS in text(response)


def test_an_approved_person_activates_payments_and_completes_step_7(
    signed_in, merchant, run_on_commit
):
    response = submit_persons(signed_in, run_on_commit, person_data())

    person = MerchantPerson.objects.get()
    merchant.refresh_from_db()
    assert response.status_code == 200
    assert KYC_SUBMITTED.format(names="Maya Okafor") in text(response)
    assert person.kyc_status == CheckStatus.APPROVED
    assert merchant.kyc_status == CheckStatus.APPROVED
    assert merchant.payments_activated is True
    assert merchant.payments_account_id.startswith("pay_acct_")
    assert step(merchant, 7).status == StepStatus.COMPLETED
    assert {step(merchant, 8).status, step(merchant, 9).status} == {StepStatus.PENDING}
    audit = KybKycAuditLog.objects.get(person=person)
    assert (audit.check_type, audit.decision, audit.reviewed_by) == ("kyc", "approved", None)
    assert audit.request_payload["ssn_last4"] == "6789"
    assert "ssn" not in audit.request_payload and "date_of_birth" not in audit.request_payload
    sync = ExternalSystemSync.objects.get(entity_type="person_kyc", entity_id=person.pk)
    assert audit.check_reference == sync.external_entity_id
    page = text(signed_in.get(KYC))
    assert "Payments are active" in page
    assert "Add a person" not in page


def test_the_provider_gets_the_ssn_but_it_is_stored_nowhere_in_clear(
    signed_in, merchant, run_on_commit
):
    submit_persons(signed_in, run_on_commit, person_data())

    ledger = SandboxLedgerEntry.objects.get(system="payments", operation="submit_kyc")
    assert ledger.request["ssn"] == "***6789"
    assert ledger.request["date_of_birth"] == "****"
    stored = [
        str(ledger.request),
        *(str(e.event_payload) for e in IntegrationEvent.objects.all()),
        *(str(s.synced_snapshot) for s in ExternalSystemSync.objects.all()),
        *(str(a.request_payload) + str(a.response_payload) for a in KybKycAuditLog.objects.all()),
    ]
    assert not any(fragment in text for text in stored for fragment in PII_FRAGMENTS)


def test_one_payments_account_however_often_it_is_asked_for(signed_in, merchant, run_on_commit):
    submit_persons(
        signed_in,
        run_on_commit,
        person_data(person_type=PersonType.REPRESENTATIVE, ownership_percentage=None),
        person_data(
            first_name="Ben", ssn="123-45-6788", person_type=PersonType.OWNER,
            ownership_percentage="100",
        ),
    )

    assert SandboxLedgerEntry.objects.filter(operation="create_account").count() == 1
    assert SandboxLedgerEntry.objects.filter(operation="submit_kyc").count() == 2
    merchant.refresh_from_db()
    assert merchant.payments_activated is True


def test_a_rejected_person_shows_the_reason_and_is_corrected_and_resubmitted(
    signed_in, merchant, run_on_commit
):
    submit_persons(signed_in, run_on_commit, person_data(ssn="123-45-0001"))
    person = MerchantPerson.objects.get()
    merchant.refresh_from_db()

    assert person.kyc_status == CheckStatus.REJECTED
    assert person.kyc_rejection_reason == sandbox.KYC_REJECTED_REASON
    assert merchant.kyc_status == CheckStatus.REJECTED
    assert merchant.payments_activated is False
    assert step(merchant, 7).status == StepStatus.FAILED
    page = text(signed_in.get(KYC))
    assert sandbox.KYC_REJECTED_REASON in page
    assert "Submit for verification (1)" in page

    corrected = signed_in.post(edit_url(person), person_data(ssn="123-45-6789"))
    run_on_commit(lambda: signed_in.post(SUBMIT))

    assert corrected.status_code == 302
    person.refresh_from_db()
    merchant.refresh_from_db()
    assert person.kyc_status == CheckStatus.APPROVED
    assert merchant.payments_activated is True
    assert step(merchant, 7).status == StepStatus.COMPLETED
    assert step(merchant, 7).error_count == 1
    assert list(
        KybKycAuditLog.objects.filter(person=person).order_by("completed_at")
        .values_list("decision", flat=True)
    ) == ["rejected", "approved"]


def test_review_required_queues_the_merchant_for_compliance(signed_in, merchant, run_on_commit):
    seeded_queues()
    submit_persons(signed_in, run_on_commit, person_data(ssn="123-45-9999"))

    person = MerchantPerson.objects.get()
    assert person.kyc_status == CheckStatus.REVIEW_REQUIRED
    item = QueueAssignment.objects.get(merchant=merchant)
    assert item.queue.code == decisions.REVIEW_QUEUE
    assert "KYC review required: Maya Okafor" in item.reason
    page = text(signed_in.get(KYC))
    assert "Under review by our compliance team" in page
    assert 'hx-trigger="every' in page  # the page polls while the case is open


def test_a_provider_approval_never_moves_a_person_in_compliance_review(
    signed_in, merchant, run_on_commit
):
    seeded_queues()
    submit_persons(signed_in, run_on_commit, person_data(ssn="123-45-9999"))
    person = MerchantPerson.objects.get()
    sent = ExternalSystemSync.objects.get(entity_id=person.pk).external_entity_id
    body = {
        "id": "evt_forged_kyc",
        "type": "kyc.decision",
        "data": {"person_id": str(person.pk), "check_id": sent, "decision": "approved"},
    }

    run_on_commit(lambda: sandbox_webhook_send("payments", json.dumps(body)))

    webhook = WebhookEvent.objects.get(external_id="evt_forged_kyc")
    assert webhook.status == "processed"
    assert webhook.ignored_reason == IGNORED_IN_REVIEW.format(check="KYC")
    person.refresh_from_db()
    assert person.kyc_status == CheckStatus.REVIEW_REQUIRED
    assert QueueAssignment.objects.get(merchant=merchant).status == AssignmentStatus.QUEUED


def test_a_compliance_reviewer_approves_with_notes_and_payments_activate(
    signed_in, merchant, run_on_commit, compliance_user
):
    seeded_queues()
    submit_persons(signed_in, run_on_commit, person_data(ssn="123-45-9999"))
    person = MerchantPerson.objects.get()

    run_on_commit(
        lambda: kyc.person_kyc_review_decide(
            person=person, decision="approved", notes="Passport checked", actor=compliance_user
        )
    )

    person.refresh_from_db()
    merchant.refresh_from_db()
    assert person.kyc_status == CheckStatus.APPROVED
    assert merchant.payments_activated is True
    assert step(merchant, 7).status == StepStatus.COMPLETED
    audit = KybKycAuditLog.objects.filter(person=person).latest("completed_at")
    assert (audit.reviewed_by, audit.reviewer_notes) == (compliance_user, "Passport checked")
    assert QueueAssignment.objects.get(merchant=merchant).status == AssignmentStatus.RESOLVED


def test_person_kyc_decide_by_a_compliance_user_activates_payments_too(
    merchant, run_on_commit, compliance_user
):
    merchant.payments_account_id = "pay_acct_existing"
    merchant.save()
    person = MerchantPersonFactory(
        merchant=merchant, person_type=PersonType.BOTH, ownership_percentage=Decimal(100),
        kyc_status=CheckStatus.REVIEW_REQUIRED,
    )

    run_on_commit(
        lambda: kyc.person_kyc_decide(
            person=person, decision="approved", actor=compliance_user, notes="ID verified"
        )
    )

    merchant.refresh_from_db()
    assert merchant.payments_activated is True
    assert step(merchant, 7).status == StepStatus.COMPLETED


def test_a_reviewer_rejection_needs_notes(merchant, compliance_user):
    person = MerchantPersonFactory(merchant=merchant, kyc_status=CheckStatus.REVIEW_REQUIRED)

    with pytest.raises(DomainError, match=decisions.NOTES_REQUIRED):
        kyc.person_kyc_review_decide(
            person=person, decision="rejected", notes=" ", actor=compliance_user
        )
    with pytest.raises(DomainError, match=decisions.REVIEW_DECISION_UNKNOWN):
        kyc.person_kyc_review_decide(
            person=person, decision="review_required", notes="x", actor=compliance_user
        )
    person.refresh_from_db()
    assert person.kyc_status == CheckStatus.REVIEW_REQUIRED


def test_payments_wait_until_every_person_is_approved(signed_in, merchant, run_on_commit):
    seeded_queues()
    submit_persons(
        signed_in,
        run_on_commit,
        person_data(person_type=PersonType.REPRESENTATIVE, ownership_percentage=None),
        person_data(
            first_name="Ben", ssn="123-45-9999", person_type=PersonType.OWNER,
            ownership_percentage="100",
        ),
    )

    merchant.refresh_from_db()
    statuses = set(MerchantPerson.objects.values_list("kyc_status", flat=True))
    assert statuses == {CheckStatus.APPROVED, CheckStatus.REVIEW_REQUIRED}
    assert merchant.payments_activated is False
    assert kyc.merchant_payments_activation_attempt(merchant=merchant) is False
    assert step(merchant, 7).status == StepStatus.IN_PROGRESS


def test_the_page_polls_while_a_check_is_under_way_and_reloads_once_it_is_over(
    signed_in, merchant
):
    person = MerchantPersonFactory(merchant=merchant, kyc_status=CheckStatus.SUBMITTED)

    waiting = text(signed_in.get(KYC))
    polled = signed_in.get(STATUS, headers={"HX-Request": "true"})
    kyc.person_kyc_decide(person=person, decision="rejected", notes="Name mismatch")
    over = signed_in.get(STATUS, headers={"HX-Request": "true"})

    assert f'hx-get="{STATUS}"' in waiting
    assert "Being verified" in waiting
    assert polled.status_code == 200
    assert text(polled).strip().startswith('<div id="kyc-status"')
    assert over.status_code == 200
    assert over["HX-Refresh"] == "true"


def test_the_page_does_not_poll_when_nothing_is_under_way(signed_in, merchant):
    MerchantPersonFactory(merchant=merchant)

    assert 'hx-trigger="every' not in text(signed_in.get(KYC))


# --- persons are frozen while checked ---------------------------------------------------------


@pytest.mark.parametrize(
    "status", [CheckStatus.SUBMITTED, CheckStatus.APPROVED, CheckStatus.REVIEW_REQUIRED]
)
def test_a_person_being_checked_or_approved_cannot_be_edited_or_removed(
    signed_in, merchant, status
):
    person = MerchantPersonFactory(merchant=merchant, kyc_status=status, first_name="Ada")
    locked = kyc.PERSON_LOCKED.format(name=person)

    page = signed_in.get(edit_url(person))
    edited = signed_in.post(edit_url(person), person_data(first_name="Eve"))
    removed = signed_in.post(remove_url(person))

    assert page.status_code == edited.status_code == removed.status_code == 409
    assert locked in text(page)
    assert 'name="first_name"' not in text(page)
    assert locked in text(removed)
    person.refresh_from_db()
    assert (person.first_name, person.kyc_status) == ("Ada", status)


def test_a_rejected_person_is_corrected_but_not_removed(signed_in, merchant):
    person = MerchantPersonFactory(merchant=merchant, kyc_status=CheckStatus.REJECTED)

    response = signed_in.post(remove_url(person))

    assert response.status_code == 409
    assert "KYC decision on record" in text(response)
    assert MerchantPerson.objects.filter(pk=person.pk).exists()


def test_a_person_never_submitted_is_removed(signed_in, merchant):
    person = MerchantPersonFactory(merchant=merchant)

    response = signed_in.post(remove_url(person), follow=True)

    assert not MerchantPerson.objects.filter(pk=person.pk).exists()
    assert f"{person} was removed." in text(response)


def test_nobody_is_added_or_removed_once_payments_are_active(client, journey_steps):
    merchant = merchant_at_setup(kyc_status=CheckStatus.APPROVED, payments_activated=True)
    person = MerchantPersonFactory(merchant=merchant, kyc_status=CheckStatus.APPROVED)
    client.force_login(merchant.user)

    added = client.post(ADD, person_data())
    removed = client.post(remove_url(person))

    assert added.status_code == removed.status_code == 409
    assert kyc.PERSONS_LOCKED_PAYMENTS_ACTIVE in text(added)
    assert kyc.PERSONS_LOCKED_PAYMENTS_ACTIVE in text(removed)
    assert MerchantPerson.objects.count() == 1


def test_nothing_to_submit_when_everyone_was_sent(signed_in, merchant):
    MerchantPersonFactory(merchant=merchant, kyc_status=CheckStatus.SUBMITTED)

    response = signed_in.post(SUBMIT)

    assert response.status_code == 409
    assert kyc.NOTHING_TO_SUBMIT in text(response)


# --- PII, ownership, roles, queries -----------------------------------------------------------


def test_ssn_and_birth_date_are_never_shown_again_once_entered(signed_in, merchant):
    signed_in.post(ADD, person_data())
    person = MerchantPerson.objects.get()

    pages = [
        text(signed_in.get(KYC)),
        text(signed_in.get(edit_url(person))),
        text(signed_in.post(edit_url(person), person_data(first_name=""))),  # a form error
        text(signed_in.post(ADD, person_data(first_name=""))),  # a form error on add
        text(signed_in.get(STATUS, headers={"HX-Request": "true"})),
    ]

    for content in pages:
        for fragment in PII_FRAGMENTS:
            assert fragment not in content
    assert "•••• 6789" in pages[0]
    assert "On file" in pages[0]


def test_an_edit_keeps_the_ssn_and_birth_date_on_file_when_left_empty(signed_in, merchant):
    person = MerchantPersonFactory(merchant=merchant, ssn="234-56-7890")

    response = signed_in.post(
        edit_url(person), person_data(first_name="Nia", ssn="", date_of_birth="")
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.first_name, person.ssn) == ("Nia", "234-56-7890")


def test_another_merchants_person_is_a_404_on_every_url(signed_in, journey_steps):
    other = MerchantPersonFactory(merchant=merchant_at_setup(), first_name="Zoe")

    responses = [
        signed_in.get(edit_url(other)),
        signed_in.post(edit_url(other), person_data()),
        signed_in.post(remove_url(other)),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    other.refresh_from_db()
    assert other.first_name == "Zoe"
    assert "Zoe" not in text(signed_in.get(KYC))


GET_URLS = [KYC, reverse("merchants:kyc_status")]
POST_URLS = [ADD, SUBMIT]


@pytest.mark.parametrize(
    "make_user",
    [AeUserFactory, IcUserFactory, ComplianceUserFactory, OpsUserFactory, UserFactory],
    ids=["ae", "ic", "compliance", "ops", "no-role"],
)
def test_staff_and_users_without_a_business_are_refused(client, make_user):
    client.force_login(make_user())

    for url in GET_URLS:
        assert client.get(url).status_code == 403
    for url in POST_URLS:
        assert client.post(url).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    for url in GET_URLS + POST_URLS:
        response = client.get(url) if url in GET_URLS else client.post(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


def test_wrong_methods_are_refused(signed_in):
    assert signed_in.post(KYC).status_code == 405
    assert signed_in.get(SUBMIT).status_code == 405
    assert signed_in.get(ADD).status_code == 405


def test_the_page_costs_the_same_queries_for_2_or_12_persons(signed_in, merchant):
    def queries():
        with CaptureQueriesContext(connection) as context:
            assert signed_in.get(KYC).status_code == 200
        return len(context.captured_queries)

    for _ in range(2):
        MerchantPersonFactory(merchant=merchant, kyc_status=CheckStatus.SUBMITTED)
    few = queries()
    for _ in range(10):
        MerchantPersonFactory(merchant=merchant, kyc_status=CheckStatus.REJECTED)

    assert queries() == few


@pytest.mark.django_db(transaction=True)
def test_outbox_sandbox_and_webhook_approve_a_person_end_to_end(client, journey_steps):
    """Real commits: the KYC event is delivered after commit, the sandbox answers through a
    signed webhook, the inbox processes it and payments are activated."""
    from apps.integrations.models import WebhookEvent

    merchant = merchant_at_setup()
    client.force_login(merchant.user)
    client.post(ADD, person_data())

    client.post(SUBMIT)

    merchant.refresh_from_db()
    assert MerchantPerson.objects.get().kyc_status == CheckStatus.APPROVED
    assert merchant.payments_activated is True
    assert merchant.current_step == 8
    assert WebhookEvent.objects.get(event_type="kyc.decision").status == "processed"
    assert IntegrationEvent.objects.filter(published=False).count() == 0
