"""Step 3, KYB: the merchant's legal entity saved and sent to the payments provider for
verification, then the provider's decision (its webhook) or a compliance reviewer's, and
what that means for the journey: approved completes step 3 and qualifies the lead, rejected
fails it with the reason (the merchant corrects and resubmits), review_required queues the
case for compliance. Decisions take the one KYB/KYC path of decisions.py."""

from typing import Unpack

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.outbox import transition_perform
from apps.leads.models import LeadStatus
from apps.leads.services import lead_qualify
from apps.merchants import pii
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.services import decisions
from apps.merchants.services.accounts import merchant_email_verified_check
from apps.progress.models import StepStatus
from apps.progress.services import step_complete, step_fail, step_retry, step_start, step_unblock
from apps.routing.models import QueueAssignment

KYB_DETAIL_FIELDS = frozenset(
    {
        "business_structure",
        "legal_business_name",
        "registered_address_line1",
        "registered_address_line2",
        "registered_city",
        "registered_state",
        "registered_postal_code",
        "registered_country",
    }
)
KYB_BEING_VERIFIED = "Your business details are being verified: they cannot be changed now."
KYB_ALREADY_APPROVED = "Your business is verified: its details can no longer be changed here."
EIN_TAKEN = (
    "This EIN is already registered to another business. Check the number, or contact us "
    "if this business is yours."
)
CASE_HELD_BY_OTHER = "{email} has taken this case from the compliance queue: only they decide it."
# Queue item statuses in which a reviewer holds the case.
_HELD = ("assigned", "contacted", "in_progress")


def merchant_kyb_submit(*, merchant: Merchant, actor) -> Merchant:
    """Send the legal entity for verification; the provider's decision arrives later."""
    return transition_perform(
        merchant,
        "kyb_submit",
        actor=actor,
        reason="merchant_kyb_submit",
        event_type="merchant.kyb_submitted",
    )


def _kyb_editable(merchant: Merchant) -> None:
    if merchant.kyb_status == CheckStatus.APPROVED:
        raise TransitionRefused(KYB_ALREADY_APPROVED, code="kyb_approved")
    if merchant.kyb_status not in (CheckStatus.PENDING, CheckStatus.REJECTED):
        raise TransitionRefused(KYB_BEING_VERIFIED, code="kyb_being_verified")


def ein_taken(*, merchant: Merchant, ein: str) -> bool:
    """Another merchant already has this EIN (compared through the keyed hash)."""
    return (
        Merchant.objects.filter(ein_hash=pii.keyed_hash(ein)).exclude(pk=merchant.pk).exists()
    )


def merchant_kyb_details_save(*, merchant: Merchant, actor, ein: str | None = None, **details):
    """Save the legal entity (while KYB is not submitted, or after a rejection). `ein` None
    or empty keeps the stored EIN. An EIN another merchant has is refused (code ein_taken)."""
    unknown = set(details) - KYB_DETAIL_FIELDS
    if unknown:
        raise DomainError(f"These fields cannot be set here: {', '.join(sorted(unknown))}.")
    _kyb_editable(merchant)
    ein_digits = pii.digits(ein)
    if ein_digits and ein_taken(merchant=merchant, ein=ein_digits):
        raise DomainError(EIN_TAKEN, code="ein_taken")
    for name, value in details.items():
        setattr(merchant, name, value.strip() if isinstance(value, str) else value)
    if ein_digits:
        merchant.set_ein(ein_digits)
    try:
        merchant.full_clean(
            exclude=[
                *("kyb_status", "kyc_status", "journey_status", "ein", "ein_hash"),
                *("lead", "user"),
            ],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), code="invalid") from exc
    try:
        with transaction.atomic():
            save_tracked(merchant, actor=actor, reason="merchant_kyb_details_save")
    except IntegrityError as exc:  # another merchant stored the same EIN a moment ago
        raise DomainError(EIN_TAKEN, code="ein_taken") from exc
    return merchant


def _progress_row(merchant: Merchant, step_id: int):
    return merchant.step_progress.select_related("step").filter(step_id=step_id).first()


def _kyb_step_open(merchant: Merchant, actor) -> None:
    """Step 3 is worked on: started the first time, back in progress after a rejection."""
    progress = _progress_row(merchant, 3)
    if progress is None:
        return
    opener = {
        StepStatus.PENDING: step_start,
        StepStatus.FAILED: step_retry,
        StepStatus.BLOCKED: step_unblock,
    }.get(progress.status)
    if opener is not None:
        opener(progress=progress, actor=actor)


def merchant_kyb_details_submit(
    *, merchant: Merchant, actor, ein: str | None = None, **details
) -> Merchant:
    """The KYB page's submit: save the legal entity, open step 3 and send KYB for
    verification (merchant.kyb_submitted goes to the payments provider through the outbox),
    all or nothing. Waits for the merchant's email to be verified."""
    merchant_email_verified_check(merchant)
    with transaction.atomic():
        # Two submits at once (a double click) queue here; the second then reads the first's
        # outcome and is told KYB is being verified.
        merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
        merchant_kyb_details_save(merchant=merchant, actor=actor, ein=ein, **details)
        _kyb_step_open(merchant, actor)
        merchant_kyb_submit(merchant=merchant, actor=actor)
    return merchant


def merchant_kyb_request(merchant: Merchant, *, masked: bool = True) -> dict:
    """What is sent to the KYB provider; `masked` (for audit rows and logs) keeps the EIN's
    last four digits only."""
    ein = merchant.ein or ""
    return {
        "merchant_id": str(merchant.pk),
        "legal_name": merchant.legal_business_name,
        "structure": merchant.business_structure,
        **({"ein_last4": pii.digits(ein)[-4:]} if masked else {"ein": ein}),
        "address": {
            "line1": merchant.registered_address_line1,
            "line2": merchant.registered_address_line2,
            "city": merchant.registered_city,
            "state": merchant.registered_state,
            "postal_code": merchant.registered_postal_code,
            "country": merchant.registered_country,
        },
    }


# --- Decisions -------------------------------------------------------------------------------


def merchant_kyb_decide(*, merchant: Merchant, **decision: Unpack[decisions.Decision]) -> Merchant:
    """Record a KYB decision: by the provider (actor None) or by a compliance reviewer
    (actor, with notes). Writes the audit row; an approval qualifies the lead."""
    return decisions.check_decide(KYB, merchant, **decision)


def merchant_kyb_provider_decide(
    *, merchant: Merchant, **answer: Unpack[decisions.ProviderAnswer]
) -> Merchant:
    """The payments provider's KYB decision (the `kyb.decision` webhook): the audit row,
    the lead qualified on approval, and the journey moved on (see _kyb_decision_follow)."""
    return decisions.check_provider_decide(KYB, merchant, **answer)


def merchant_kyb_review_decide(
    *, merchant: Merchant, decision: str, notes: str, actor
) -> Merchant:
    """A compliance reviewer approves or rejects a KYB under review, with notes (required,
    kept in the audit log; a rejection's notes are the reason the merchant sees). The case
    leaves the compliance queue. A case another reviewer has taken is theirs to decide."""
    return decisions.check_review_decide(KYB, merchant, decision=decision, notes=notes, actor=actor)


def _kyb_decided(merchant: Merchant, decision: str, *, actor) -> None:
    """An approval qualifies the lead, while it is new or contacted."""
    lead = merchant.lead
    if decision == CheckStatus.APPROVED and lead.status in (
        LeadStatus.NEW,
        LeadStatus.CONTACTED,
    ):
        lead_qualify(lead=lead, actor=actor)


def _kyb_decision_follow(merchant: Merchant, decision: str, *, reason: str, actor) -> None:
    """What a KYB decision means for the journey: approved completes step 3 and opens
    step 4; rejected fails step 3 with the reason (the merchant corrects and resubmits);
    review_required queues the case for compliance."""
    if decision == CheckStatus.REVIEW_REQUIRED:
        decisions.review_enqueue(
            merchant,
            reason=f"KYB review required: {reason}" if reason else "KYB review required",
            unqueued=f"KYB review for merchant {merchant.pk}",
        )
        return
    step = _progress_row(merchant, 3)
    if step is None:
        return
    if decision == CheckStatus.REJECTED:
        if step.status == StepStatus.IN_PROGRESS:
            step_fail(progress=step, actor=actor, error=f"KYB rejected: {reason or 'no reason'}")
        return
    if step.status in (StepStatus.PENDING, StepStatus.FAILED, StepStatus.BLOCKED):
        _kyb_step_open(merchant, actor)
        step.refresh_from_db()
    if step.status == StepStatus.IN_PROGRESS:
        step_complete(progress=step, actor=actor)
    following = _progress_row(merchant, 4)
    if following is not None and following.status == StepStatus.PENDING:
        step_start(progress=following, actor=actor)


def _kyb_review_holder(merchant: Merchant, actor):
    """The other reviewer who has taken this case from the compliance queue, if any: only
    they decide it (as only an item's holder works it; superusers may act for anyone)."""
    if actor.is_superuser:
        return None
    item = (
        QueueAssignment.objects.filter(
            queue__code=decisions.REVIEW_QUEUE, merchant=merchant, status__in=_HELD
        )
        .exclude(assigned_to=actor)
        .select_related("assigned_to")
        .first()
    )
    holder = item.assigned_to if item else None
    return holder if holder is not None and holder.is_active else None


def _kyb_review_refused(merchant: Merchant, *, actor) -> None:
    """A case another reviewer has taken is theirs to decide."""
    holder = _kyb_review_holder(merchant, actor)
    if holder is not None:
        raise TransitionRefused(
            CASE_HELD_BY_OTHER.format(email=holder.email), code="case_held_by_other"
        )


def _kyb_review_decided(merchant: Merchant, decision: str, *, reason: str, actor) -> None:
    """The journey moves on as after a provider's decision, and the case leaves the
    compliance queue."""
    _kyb_decision_follow(merchant, decision, reason=reason, actor=actor)
    decisions.review_resolve(
        merchant, actor=actor, note=f"KYB {decision}: {reason}", withdraw_unworkable=True
    )


# KYB on the one KYB/KYC decision path.
KYB = decisions.CheckKind(
    "kyb", request=merchant_kyb_request, decided=_kyb_decided,
    provider_decided=_kyb_decision_follow, review_decided=_kyb_review_decided,
    review_refused=_kyb_review_refused,
)
