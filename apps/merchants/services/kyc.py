"""Step 7: the business's representatives and owners (persons), their identity checks (KYC)
and payments activation. Persons change only while their KYC is not under way or passed
and payments are not active; the merchant's KYC status follows its persons'. KYC decisions
take the one KYB/KYC path of decisions.py; once every person passed and the payments
account exists, payments are activated and step 7 is completed."""

from decimal import Decimal
from typing import Unpack

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.outbox import event_emit, transition_perform
from apps.merchants import pii, validators
from apps.merchants.choices import CheckStatus, PersonType
from apps.merchants.models import Merchant, MerchantPerson
from apps.merchants.selectors.kyc import OWNER_TYPES, REPRESENTATIVE_TYPES, owners_total
from apps.merchants.services import decisions
from apps.merchants.services.accounts import merchant_email_verified_check
from apps.merchants.services.bank import merchant_payouts_refresh
from apps.merchants.services.steps import (
    FIELDS_UNKNOWN,
    _setup_step_fail,
    _setup_step_finish,
    _setup_step_open,
    _setup_step_touch,
)

OWNERSHIP_OVER_100 = "Owners' shares add up to more than 100 %."
NO_REPRESENTATIVE = "Add a representative: someone who can act for the business."
KYC_NOT_APPROVED = "Every owner and representative must pass KYC first."
ALREADY_ACTIVATED = "Payments are already active for this business."
PERSONS_LOCKED_PAYMENTS_ACTIVE = (
    "Payments are active for this business: contact support to change its owners or "
    "representatives."
)
PERSON_LOCKED = (
    "{name}'s identity check is under way or passed: their details cannot be changed now."
)
PERSON_HAS_DECISION = (
    "{name} has a KYC decision on record, kept for compliance: correct their details and "
    "submit them again instead."
)
PERSON_DETAILS_MISSING = "Enter {name}'s SSN and date of birth before submitting."
OWNERS_TOTAL_OVER_100 = (
    "Owners would hold {total} % in total: the owners' shares can add up to 100 % at most."
)
OWNERSHIP_REQUIRED = "Enter the share this owner holds, from 0 to 100 %."
OWNERSHIP_ONLY_OWNERS = "Only owners hold shares: leave the ownership empty for a representative."
NO_PERSONS = "Add the business's representative and owners first."
NOTHING_TO_SUBMIT = "Everyone was already sent for verification: nothing to submit."
PAYMENTS_ACCOUNT_KEY = "payments-account:{merchant_id}"

_PERSON_FIELDS = frozenset(
    {
        "person_type",
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "ownership_percentage",
        "ssn",
        "date_of_birth",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
    }
)
_PERSON_NULLABLE = frozenset({"ownership_percentage", "ssn", "date_of_birth"})


# --- Persons ----------------------------------------------------------------------------------


def ssn_formatted(digits_only: str) -> str:
    return f"{digits_only[:3]}-{digits_only[3:5]}-{digits_only[5:]}"


def _merchant_lock(merchant: Merchant) -> None:
    """Serialise changes to one merchant's persons (the owners' total is a sum of rows)."""
    list(Merchant.objects.select_for_update().filter(pk=merchant.pk).values_list("pk"))


def _persons_changeable(merchant: Merchant) -> None:
    if Merchant.objects.filter(pk=merchant.pk, payments_activated=True).exists():
        raise TransitionRefused(PERSONS_LOCKED_PAYMENTS_ACTIVE, code="payments_active")


def _owners_check(merchant: Merchant, person: MerchantPerson) -> None:
    if person.person_type not in OWNER_TYPES:
        return
    total = owners_total(merchant=merchant, excluding=person.pk) + (
        person.ownership_percentage or Decimal(0)
    )
    if total > 100:
        raise DomainError(
            OWNERS_TOTAL_OVER_100.format(total=f"{total:.2f}"), code="ownership_over_100"
        )


def _person_apply(person: MerchantPerson, fields: dict) -> None:
    """Set checked values on the person; SSN and date of birth are validated here too, so
    no path stores one the forms would refuse (an invalid SSN never reaches the provider)."""
    unknown = set(fields) - _PERSON_FIELDS
    if unknown:
        raise DomainError(FIELDS_UNKNOWN.format(names=", ".join(sorted(unknown))))
    try:
        if "ssn" in fields:
            fields["ssn"] = ssn_formatted(validators.validate_ssn(fields["ssn"]))
        if "date_of_birth" in fields:
            validators.validate_date_of_birth(fields["date_of_birth"])
    except ValidationError as exc:
        raise DomainError(exc.messages[0], code="invalid") from exc
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip()
        elif value is None and name not in _PERSON_NULLABLE:
            value = ""
        setattr(person, name, value)
    if person.person_type not in PersonType.values:
        raise DomainError("Choose the person's role: representative, owner or both.")
    if person.person_type in OWNER_TYPES:
        share = person.ownership_percentage
        if share is None:
            raise DomainError(OWNERSHIP_REQUIRED, code="ownership_required")
        if not Decimal(0) <= Decimal(share) <= Decimal(100):
            raise DomainError(OWNERSHIP_REQUIRED, code="ownership_out_of_range")
    elif person.ownership_percentage is not None:
        raise DomainError(OWNERSHIP_ONLY_OWNERS, code="ownership_only_owners")
    if not (person.first_name and person.last_name):
        raise DomainError("Enter the person's first and last name.", code="name_required")


def person_add(*, merchant: Merchant, actor, **fields) -> MerchantPerson:
    """Add a representative or owner (step 7, which this starts). Refused while step 6 is
    not completed, once payments are active, or when owners would hold more than 100 %, and
    until the merchant's email is verified."""
    merchant_email_verified_check(merchant)
    with transaction.atomic():
        progress = _setup_step_open(merchant, 7, actor)
        _merchant_lock(merchant)
        _persons_changeable(merchant)
        person = MerchantPerson(merchant=merchant)
        _person_apply(person, dict(fields))
        if not person.ssn or not person.date_of_birth:
            raise DomainError(PERSON_DETAILS_MISSING.format(name=person), code="details_missing")
        _owners_check(merchant, person)
        save_tracked(person, actor=actor, reason="person_add")
        _setup_step_touch(progress, actor=actor, reason="person_add")
        merchant_kyc_status_sync(merchant=Merchant.objects.get(pk=merchant.pk), actor=actor)
    return person


def _person_editable(person: MerchantPerson) -> None:
    if person.kyc_status not in (CheckStatus.PENDING, CheckStatus.REJECTED):
        raise TransitionRefused(PERSON_LOCKED.format(name=person), code="person_locked")


def person_update(*, person: MerchantPerson, actor, **fields) -> MerchantPerson:
    """Correct a person not yet checked, or rejected (then submitted again). An SSN or date
    of birth left out keeps the one on file."""
    merchant = person.merchant
    merchant_email_verified_check(merchant)
    with transaction.atomic():
        progress = _setup_step_open(merchant, 7, actor)
        _merchant_lock(merchant)
        _persons_changeable(merchant)
        person = MerchantPerson.objects.select_for_update().get(pk=person.pk)
        _person_editable(person)
        _person_apply(person, dict(fields))
        _owners_check(merchant, person)
        save_tracked(person, actor=actor, reason="person_update")
        _setup_step_touch(progress, actor=actor, reason="person_update")
    return person


def person_remove(*, person: MerchantPerson, actor) -> None:
    """Remove a person never sent for verification. A person with a KYC decision stays:
    its audit rows are kept for compliance."""
    merchant = person.merchant
    with transaction.atomic():
        progress = _setup_step_open(merchant, 7, actor)
        _merchant_lock(merchant)
        _persons_changeable(merchant)
        person = MerchantPerson.objects.select_for_update().get(pk=person.pk)
        if person.kyc_status == CheckStatus.REJECTED:
            raise TransitionRefused(
                PERSON_HAS_DECISION.format(name=person), code="person_has_decision"
            )
        _person_editable(person)
        person._history_user = actor
        person._change_reason = "person_remove"
        person.delete()
        _setup_step_touch(progress, actor=actor, reason="person_remove")
        merchant_kyc_status_sync(merchant=Merchant.objects.get(pk=merchant.pk), actor=actor)


# --- KYC --------------------------------------------------------------------------------------


def person_kyc_request(person: MerchantPerson, *, masked: bool = True) -> dict:
    """What is sent to the KYC provider; `masked` (audit rows, logs) keeps the SSN's last
    four digits and no date of birth."""
    share = person.ownership_percentage
    request = {
        "person_id": str(person.pk),
        "merchant_id": str(person.merchant_id),
        "person_type": person.person_type,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": person.phone,
        "title": person.title,
        "ownership_percentage": str(share) if share is not None else None,
        "address": {
            "line1": person.address_line1,
            "line2": person.address_line2,
            "city": person.city,
            "state": person.state,
            "postal_code": person.postal_code,
            "country": person.country,
        },
    }
    if masked:
        request["ssn_last4"] = pii.digits(person.ssn)[-4:]
    else:
        request["ssn"] = pii.digits(person.ssn)
        dob = person.date_of_birth
        request["date_of_birth"] = dob.isoformat() if dob else None
    return request


def merchant_kyc_submit(*, merchant: Merchant, actor) -> list[MerchantPerson]:
    """"Submit for verification": every person not checked yet (or rejected and corrected)
    goes to the payments provider through the outbox, with the payments account requested
    first if the business has none. Refused without a representative, with owners above
    100 % or with nobody to send; all or nothing."""
    with transaction.atomic():
        _setup_step_open(merchant, 7, actor)
        _merchant_lock(merchant)
        merchant.refresh_from_db()
        persons = list(merchant.persons.select_for_update().order_by("created_at", "pk"))
        if not persons:
            raise DomainError(NO_PERSONS, code="no_persons")
        if not any(p.person_type in REPRESENTATIVE_TYPES for p in persons):
            raise DomainError(NO_REPRESENTATIVE, code="no_representative")
        total = sum(
            (p.ownership_percentage or Decimal(0) for p in persons if p.person_type in OWNER_TYPES),
            Decimal(0),
        )
        if total > 100:
            raise DomainError(
                OWNERS_TOTAL_OVER_100.format(total=f"{total:.2f}"), code="ownership_over_100"
            )
        waiting = [
            p for p in persons if p.kyc_status in (CheckStatus.PENDING, CheckStatus.REJECTED)
        ]
        if not waiting:
            raise TransitionRefused(NOTHING_TO_SUBMIT, code="nothing_to_submit")
        for person in waiting:
            if not person.ssn or not person.date_of_birth:
                raise DomainError(
                    PERSON_DETAILS_MISSING.format(name=person), code="details_missing"
                )
        if not merchant.payments_account_id:
            event_emit(event_type="merchant.payments_account_requested", aggregate=merchant)
        for person in waiting:
            person.merchant = merchant
            person_kyc_submit(person=person, actor=actor)
    return waiting


def person_kyc_submit(*, person: MerchantPerson, actor) -> MerchantPerson:
    with transaction.atomic():
        transition_perform(
            person,
            "kyc_submit",
            actor=actor,
            reason="person_kyc_submit",
            event_type="person.kyc_submitted",
        )
        merchant_kyc_status_sync(merchant=person.merchant, actor=actor)
    return person


def person_kyc_decide(
    *, person: MerchantPerson, **decision: Unpack[decisions.Decision]
) -> MerchantPerson:
    """Record a person's KYC decision, by the provider (actor None) or by a compliance
    reviewer (actor, with notes), with its audit row; the merchant's KYC follows."""
    return decisions.check_decide(KYC, person, **decision)


def person_kyc_provider_decide(
    *, person: MerchantPerson, **answer: Unpack[decisions.ProviderAnswer]
) -> MerchantPerson:
    """The payments provider's KYC decision (the `kyc.decision` webhook): the audit row and
    the derived merchant KYC; a rejection counts as an error on step 7 (the merchant
    corrects and resubmits), review_required queues the case for compliance. Approval of
    the last person activates payments through the merchant.kyc_approved event."""
    return decisions.check_provider_decide(KYC, person, **answer)


def person_kyc_review_decide(
    *, person: MerchantPerson, decision: str, notes: str, actor
) -> MerchantPerson:
    """A compliance reviewer approves or rejects a person's KYC under review, with notes
    (required, kept in the audit log). The merchant's compliance queue item is resolved
    once nothing of it is under review any more."""
    return decisions.check_review_decide(KYC, person, decision=decision, notes=notes, actor=actor)


def _kyc_decided(person: MerchantPerson, decision: str, *, actor) -> None:
    merchant_kyc_status_sync(merchant=person.merchant, actor=actor)


def _kyc_provider_decided(person: MerchantPerson, decision: str, *, reason: str, actor) -> None:
    """A rejection counts as an error on step 7 (the merchant corrects and resubmits);
    review_required queues the merchant for compliance (one open item per merchant: a KYB
    case already queued covers it too)."""
    if decision == CheckStatus.REJECTED:
        _setup_step_fail(
            person.merchant, 7, actor=actor, error=f"KYC rejected for {person}: {reason}"
        )
    elif decision == CheckStatus.REVIEW_REQUIRED:
        decisions.review_enqueue(
            person.merchant,
            reason=f"KYC review required: {person}" + (f" ({reason})" if reason else ""),
            unqueued=f"KYC review of person {person.pk}",
        )


def _kyc_review_decided(person: MerchantPerson, decision: str, *, reason: str, actor) -> None:
    """Close the merchant's compliance queue item once nothing of it is under review."""
    merchant = Merchant.objects.get(pk=person.merchant.pk)
    if merchant.kyb_status == CheckStatus.REVIEW_REQUIRED or merchant.persons.filter(
        kyc_status=CheckStatus.REVIEW_REQUIRED
    ).exists():
        return
    decisions.review_resolve(
        merchant, actor=actor, note=f"KYC {decision}: {reason}", withdraw_unworkable=False
    )


# KYC on the one KYB/KYC decision path.
KYC = decisions.CheckKind(
    "kyc", request=person_kyc_request, decided=_kyc_decided,
    provider_decided=_kyc_provider_decided, review_decided=_kyc_review_decided,
)


def _derived_kyc_status(merchant: Merchant) -> str:
    statuses = set(merchant.persons.values_list("kyc_status", flat=True))
    if not statuses or statuses == {CheckStatus.PENDING}:
        return CheckStatus.PENDING
    for status in (CheckStatus.REJECTED, CheckStatus.REVIEW_REQUIRED):
        if status in statuses:
            return status
    if statuses == {CheckStatus.APPROVED}:
        return CheckStatus.APPROVED
    return CheckStatus.SUBMITTED


def merchant_kyc_status_sync(*, merchant: Merchant, actor=None) -> Merchant:
    """Merchant.kyc_status follows its persons: rejected if any is rejected, under review if
    any is, approved when all are. Losing approval turns payments and payouts off."""
    target = _derived_kyc_status(merchant)
    current = merchant.kyc_status
    if target == current or target == CheckStatus.PENDING:
        return merchant
    with transaction.atomic():
        reason = f"merchant_kyc_status_sync: persons are {target}"
        if current in (CheckStatus.PENDING, CheckStatus.REJECTED, CheckStatus.APPROVED) or (
            target == CheckStatus.SUBMITTED
        ):
            if current == CheckStatus.APPROVED:
                merchant.payments_activated = False
                merchant.payouts_enabled = False
            transition_perform(merchant, "kyc_submit", actor=None, reason=reason)
        if target != CheckStatus.SUBMITTED:
            transition_perform(
                merchant,
                decisions.TRANSITIONS["kyc"][target],
                actor=None,
                reason=reason,
                event_type=f"merchant.kyc_{target}",
            )
        merchant_payouts_refresh(merchant=merchant, actor=actor)
    return merchant


# --- Payments activation ----------------------------------------------------------------------


def merchant_payments_activate(*, merchant: Merchant, actor) -> Merchant:
    """Step 7 done (rule 3): every person KYC-approved, a representative, owners ≤ 100 %."""
    persons = list(merchant.persons.all())
    if merchant.payments_activated:
        raise DomainError(ALREADY_ACTIVATED, code="already_activated")
    if not any(p.person_type in (PersonType.REPRESENTATIVE, PersonType.BOTH) for p in persons):
        raise DomainError(NO_REPRESENTATIVE, code="no_representative")
    owned = sum(
        (p.ownership_percentage or Decimal(0))
        for p in persons
        if p.person_type in (PersonType.OWNER, PersonType.BOTH)
    )
    if owned > 100:
        raise DomainError(OWNERSHIP_OVER_100, code="ownership_over_100")
    if merchant.kyc_status != CheckStatus.APPROVED or any(
        p.kyc_status != CheckStatus.APPROVED for p in persons
    ):
        raise DomainError(KYC_NOT_APPROVED, code="kyc_not_approved")

    with transaction.atomic():
        merchant.payments_activated = True
        merchant.payments_activated_at = timezone.now()
        save_tracked(merchant, actor=actor, reason="merchant_payments_activate")
        event_emit(event_type="merchant.payments_activated", aggregate=merchant)
        merchant_payouts_refresh(merchant=merchant, actor=actor)
    return merchant


def merchant_payments_account_record(
    *, merchant: Merchant, account_id: str, actor=None
) -> Merchant:
    """Keep the payments provider's account id (once), then try to activate payments."""
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if merchant.payments_account_id == account_id:
            return merchant
        if merchant.payments_account_id:
            raise DomainError(
                f"This business already has the payments account {merchant.payments_account_id}.",
                code="payments_account_exists",
            )
        merchant.payments_account_id = account_id
        save_tracked(
            merchant,
            actor=actor,
            reason="merchant_payments_account_record",
            update_fields=["payments_account_id", "updated_at"],
        )
        merchant_payments_activation_attempt(merchant=merchant, actor=actor)
    return merchant


def merchant_payments_activation_attempt(*, merchant: Merchant, actor=None) -> bool:
    """Activate payments and complete step 7 once every person passed KYC and the payments
    account exists; otherwise do nothing (it is tried again when either arrives). Called
    on merchant.kyc_approved, whoever decided, and when the account id is recorded."""
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if not merchant.payments_activated:
            if merchant.kyc_status != CheckStatus.APPROVED or not merchant.payments_account_id:
                return False
            try:
                merchant_payments_activate(merchant=merchant, actor=actor)
            except DomainError:
                return False
        _setup_step_finish(merchant, 7, actor=actor)
    return True
