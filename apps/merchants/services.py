from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.compliance.services import kyb_kyc_audit_record
from apps.core.errors import DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.integrations.outbox import transition_perform
from apps.merchants.models import (
    CheckStatus,
    Merchant,
    MerchantBankAccount,
    MerchantPerson,
    PersonType,
    VerificationStatus,
)

DECISIONS = (CheckStatus.APPROVED, CheckStatus.REJECTED, CheckStatus.REVIEW_REQUIRED)
UNKNOWN_DECISION = "A decision is approved, rejected or review_required."
NOTES_REQUIRED = "A reviewer's decision needs notes: they are kept in the audit log."
NOT_UNDER_REVIEW = "Only a case under review can be decided by a reviewer."
OWNERSHIP_OVER_100 = "Owners' shares add up to more than 100 %."
NO_REPRESENTATIVE = "Add a representative: someone who can act for the business."
KYC_NOT_APPROVED = "Every owner and representative must pass KYC first."
ALREADY_ACTIVATED = "Payments are already active for this business."

_KYB_TRANSITIONS = {
    CheckStatus.APPROVED: "kyb_approve",
    CheckStatus.REJECTED: "kyb_reject",
    CheckStatus.REVIEW_REQUIRED: "kyb_require_review",
}
_KYC_TRANSITIONS = {
    CheckStatus.APPROVED: "kyc_approve",
    CheckStatus.REJECTED: "kyc_reject",
    CheckStatus.REVIEW_REQUIRED: "kyc_require_review",
}


def _check_decision(decision: str, *, actor, notes: str, status: str) -> None:
    if decision not in DECISIONS:
        raise DomainError(UNKNOWN_DECISION, code="unknown_decision")
    if actor is not None:
        # People decide only what the provider sent to review; otherwise the provider's
        # own decision, still on its way, would arrive to a case already closed.
        if status != CheckStatus.REVIEW_REQUIRED:
            raise TransitionRefused(NOT_UNDER_REVIEW, code="not_under_review")
        if not notes.strip():
            raise DomainError(NOTES_REQUIRED, code="notes_required")



def _decision_record(
    subject,
    *,
    check_type: str,
    transitions: dict,
    status: str,
    submitted_at,
    merchant,
    person,
    decision: str,
    actor,
    notes: str,
    evidence: dict,
) -> None:
    """One KYB or KYC decision: the transition (history who/why, event) and its audit row
    (rule 10). The caller holds the transaction."""
    _check_decision(decision, actor=actor, notes=notes, status=status)
    noun, service = ("merchant", "merchant_kyb_decide") if check_type == "kyb" else (
        "person",
        "person_kyc_decide",
    )
    who = "reviewer" if actor else "provider"
    transition_perform(
        subject,
        transitions[decision],
        actor=actor,
        reason=f"{service}: {decision} by {who}" + (f": {notes}" if notes else ""),
        event_type=f"{noun}.{check_type}_{decision}",
        params={"reason": notes} if decision == CheckStatus.REJECTED else None,
    )
    kyb_kyc_audit_record(
        check_type=check_type,
        merchant=merchant,
        person=person,
        decision=decision,
        actor=actor,
        notes=notes,
        submitted_at=submitted_at or timezone.now(),
        **evidence,
    )

# --- KYB --------------------------------------------------------------------------------------


def merchant_kyb_submit(*, merchant: Merchant, actor) -> Merchant:
    """Send the legal entity for verification; the provider's decision arrives later."""
    return transition_perform(
        merchant,
        "kyb_submit",
        actor=actor,
        reason="merchant_kyb_submit",
        event_type="merchant.kyb_submitted",
    )


def merchant_kyb_decide(
    *,
    merchant: Merchant,
    decision: str,
    actor=None,
    notes: str = "",
    provider: str = "",
    reference: str = "",
    request_payload: dict | None = None,
    response_payload: dict | None = None,
    risk_score: Decimal | None = None,
) -> Merchant:
    """Record a KYB decision: by the provider (actor None) or by a compliance reviewer
    (actor, with notes). Writes the audit row; an approval qualifies the lead."""
    from apps.leads.models import LeadStatus
    from apps.leads.services import lead_qualify

    with transaction.atomic():
        _decision_record(
            merchant,
            check_type="kyb",
            transitions=_KYB_TRANSITIONS,
            status=merchant.kyb_status,
            submitted_at=merchant.kyb_submitted_at,
            merchant=merchant,
            person=None,
            decision=decision,
            actor=actor,
            notes=notes,
            evidence={
                "provider": provider,
                "reference": reference,
                "request_payload": request_payload,
                "response_payload": response_payload,
                "risk_score": risk_score,
            },
        )
        lead = merchant.lead
        if decision == CheckStatus.APPROVED and lead.status in (
            LeadStatus.NEW,
            LeadStatus.CONTACTED,
        ):
            lead_qualify(lead=lead, actor=actor)
    return merchant


# --- KYC --------------------------------------------------------------------------------------


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
    *,
    person: MerchantPerson,
    decision: str,
    actor=None,
    notes: str = "",
    provider: str = "",
    reference: str = "",
    request_payload: dict | None = None,
    response_payload: dict | None = None,
    risk_score: Decimal | None = None,
) -> MerchantPerson:
    with transaction.atomic():
        _decision_record(
            person,
            check_type="kyc",
            transitions=_KYC_TRANSITIONS,
            status=person.kyc_status,
            submitted_at=person.kyc_submitted_at,
            merchant=person.merchant,
            person=person,
            decision=decision,
            actor=actor,
            notes=notes,
            evidence={
                "provider": provider,
                "reference": reference,
                "request_payload": request_payload,
                "response_payload": response_payload,
                "risk_score": risk_score,
            },
        )
        merchant_kyc_status_sync(merchant=person.merchant, actor=actor)
    return person


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
                _KYC_TRANSITIONS[target],
                actor=None,
                reason=reason,
                event_type=f"merchant.kyc_{target}",
            )
        merchant_payouts_refresh(merchant=merchant, actor=actor)
    return merchant


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
    from apps.integrations.outbox import event_emit

    with transaction.atomic():
        merchant.payments_activated = True
        merchant.payments_activated_at = timezone.now()
        save_tracked(merchant, actor=actor, reason="merchant_payments_activate")
        event_emit(event_type="merchant.payments_activated", aggregate=merchant)
        merchant_payouts_refresh(merchant=merchant, actor=actor)
    return merchant


def merchant_payouts_refresh(*, merchant: Merchant, actor=None) -> Merchant:
    """Rule 2: payouts on exactly when the primary bank account is verified and KYC is
    approved; off again otherwise."""
    from apps.integrations.outbox import event_emit

    allowed = (
        merchant.kyc_status == CheckStatus.APPROVED
        and merchant.bank_accounts.filter(
            is_primary=True, verification_status=VerificationStatus.VERIFIED
        ).exists()
    )
    if allowed == merchant.payouts_enabled:
        return merchant
    with transaction.atomic():
        merchant.payouts_enabled = allowed
        merchant.payouts_enabled_at = timezone.now() if allowed else None
        state = "enabled" if allowed else "held"
        save_tracked(merchant, actor=actor, reason=f"merchant_payouts_refresh: payouts {state}")
        event_emit(event_type=f"merchant.payouts_{state}", aggregate=merchant)
    return merchant


# --- Bank account ---------------------------------------------------------------------------


def bank_account_add(*, merchant: Merchant, actor, **details) -> MerchantBankAccount:
    """A new primary payout account. It replaces the current primary one, which stops
    being used; payouts are held again until the new account is verified (rule 2)."""
    with transaction.atomic():
        for old in merchant.bank_accounts.select_for_update().filter(is_primary=True):
            old.is_primary = False
            old.is_active = False
            save_tracked(old, actor=actor, reason="bank_account_add: replaced")
        account = MerchantBankAccount(merchant=merchant, is_primary=True, **details)
        save_tracked(account, actor=actor, reason="bank_account_add")
        merchant_payouts_refresh(merchant=merchant, actor=actor)
    return account


def bank_account_verification_start(
    *, bank_account: MerchantBankAccount, actor, method: str = "instant"
) -> MerchantBankAccount:
    return transition_perform(
        bank_account,
        "verification_start",
        actor=actor,
        reason=f"bank_account_verification_start: {method}",
        event_type="bank_account.verification_started",
        params={"verification_method": method},
    )


def bank_account_verification_succeed(
    *, bank_account: MerchantBankAccount, actor=None
) -> MerchantBankAccount:
    with transaction.atomic():
        transition_perform(
            bank_account,
            "verification_succeed",
            actor=actor,
            reason="bank_account_verification_succeed",
            event_type="bank_account.verified",
        )
        merchant_payouts_refresh(merchant=bank_account.merchant, actor=actor)
    return bank_account


def bank_account_verification_fail(
    *, bank_account: MerchantBankAccount, reason: str, actor=None
) -> MerchantBankAccount:
    with transaction.atomic():
        transition_perform(
            bank_account,
            "verification_fail",
            actor=actor,
            reason=f"bank_account_verification_fail: {reason}",
            event_type="bank_account.verification_failed",
            params={"reason": reason},
        )
        merchant_payouts_refresh(merchant=bank_account.merchant, actor=actor)
    return bank_account


# --- Journey ----------------------------------------------------------------------------------


def merchant_journey_complete(*, merchant: Merchant, actor=None) -> Merchant:
    return transition_perform(
        merchant,
        "journey_complete",
        actor=actor,
        reason="merchant_journey_complete",
        event_type="merchant.journey_completed",
    )


def merchant_journey_block(*, merchant: Merchant, actor, reason: str) -> Merchant:
    if not reason.strip():
        raise DomainError("Say what blocks the journey.", code="reason_required")
    return transition_perform(
        merchant,
        "journey_block",
        actor=actor,
        reason=f"merchant_journey_block: {reason}",
        event_type="merchant.blocked",
        params={"reason": reason},
    )


def merchant_journey_abandon(*, merchant: Merchant, actor=None, reason: str = "") -> Merchant:
    return transition_perform(
        merchant,
        "journey_abandon",
        actor=actor,
        reason=f"merchant_journey_abandon: {reason or 'no activity'}",
        event_type="merchant.abandoned",
    )


def merchant_journey_resume(*, merchant: Merchant, actor=None, reason: str = "") -> Merchant:
    return transition_perform(
        merchant,
        "journey_resume",
        actor=actor,
        reason=f"merchant_journey_resume: {reason or 'activity again'}",
        event_type="merchant.resumed",
    )


# --- Account creation and email verification (step 2) ----------------------------------------

LEAD_HAS_ACCOUNT = "This business already has an account: sign in instead."
EMAIL_HAS_ACCOUNT = "An account with this email address already exists: sign in instead."
LEGAL_NAME_REQUIRED = "Enter the legal name of the business."
JOURNEY_NOT_SET_UP = "The onboarding steps are not set up yet. Please try again later."
NO_LOGIN = "This business has no login to verify."
EMAIL_ALREADY_VERIFIED = "Your email address is already verified."
VERIFY_LINK_INVALID = (
    "This verification link is not valid. Sign in and ask for a new one from your dashboard."
)
VERIFY_LINK_EXPIRED = (
    "This verification link has expired (links are valid for 3 days). Sign in and ask for a "
    "new one from your dashboard."
)
VERIFY_RESEND_TOO_SOON = (
    "We sent you a link less than a minute ago: check your inbox (and spam folder) first."
)
VERIFY_RESEND_INTERVAL_SECONDS = 60
EMAIL_VERIFY_SALT = "merchants.email-verify"
EMAIL_VERIFY_MAX_AGE_SECONDS = 3 * 24 * 3600
# Where links in emails point when the caller has no request to take the host from.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
SIGNUP_SOURCE = "account_signup"


def merchant_account_create(
    *, lead, password: str, legal_business_name: str, actor=None, base_url: str = ""
) -> Merchant:
    """Step 2: the lead becomes a merchant. Creates the login (role merchant, usable at once;
    the email is verified later through the emailed link), the Merchant (cohort from the
    lead), its ten progress rows with steps 1 and 2 done, and sends the verification email
    through the outbox. `base_url` ("https://portal.example.com") roots the link."""
    from django.contrib.auth.models import Group
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError

    from apps.accounts.models import User
    from apps.accounts.roles import MERCHANT
    from apps.integrations.outbox import event_emit
    from apps.leads.models import Cohort, Lead
    from apps.merchants.models import BusinessStructure
    from apps.progress.services import merchant_progress_create, step_complete, step_start

    legal_business_name = (legal_business_name or "").strip()
    if not legal_business_name:
        raise DomainError(LEGAL_NAME_REQUIRED, code="legal_name_required")
    email = lead.email.strip().lower()
    candidate = User(email=email, first_name=lead.first_name, last_name=lead.last_name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), code="weak_password") from exc
    try:
        with transaction.atomic():
            # Two submissions for one lead queue up here; the second sees the first's merchant.
            lead = Lead.objects.select_for_update().get(pk=lead.pk)
            if Merchant.objects.filter(lead=lead).exists():
                raise DomainError(LEAD_HAS_ACCOUNT, code="lead_has_account")
            if User.objects.filter(email__iexact=email).exists():
                raise DomainError(EMAIL_HAS_ACCOUNT, code="email_has_account")
            user = User.objects.create_user(
                email=email,
                password=password,
                first_name=lead.first_name,
                last_name=lead.last_name,
            )
            user.groups.add(Group.objects.get(name=MERCHANT))
            who = actor or user
            merchant = Merchant(
                lead=lead,
                user=user,
                cohort=lead.cohort or Cohort.SELF_SERVE,
                legal_business_name=legal_business_name,
                business_structure=lead.business_type
                if lead.business_type in BusinessStructure.values
                else "",
            )
            save_tracked(merchant, actor=who, reason="merchant_account_create")
            merchant_progress_create(merchant=merchant, actor=who)
            progress = {row.step_id: row for row in merchant.step_progress.select_related("step")}
            if not {1, 2} <= set(progress):
                raise DomainError(JOURNEY_NOT_SET_UP, code="journey_not_set_up")
            for step_id in (1, 2):
                step_start(progress=progress[step_id], actor=who)
                step_complete(progress=progress[step_id], actor=who)
            merchant.refresh_from_db()
            event_emit(
                event_type="merchant.created",
                aggregate=merchant,
                payload={"lead_id": str(lead.pk), "cohort": merchant.cohort},
            )
            event_emit(
                event_type="merchant.verification_email_requested",
                aggregate=merchant,
                payload={"base_url": base_url},
            )
    except IntegrityError as exc:  # a concurrent creation won the race on a unique key
        taken = Merchant.objects.filter(lead_id=lead.pk).exists()
        raise DomainError(
            LEAD_HAS_ACCOUNT if taken else EMAIL_HAS_ACCOUNT,
            code="lead_has_account" if taken else "email_has_account",
        ) from exc
    return merchant


def merchant_signup(
    *, email: str, password: str, legal_business_name: str, base_url: str = ""
) -> Merchant:
    """Account creation without a lead's link: the lead with this email (which must not
    have an account yet), or a new lead captured and profiled for it, becomes a merchant.
    All or nothing: a refused account leaves no new lead behind."""
    from django.core.exceptions import ValidationError

    from apps.leads.models import Lead
    from apps.leads.services import lead_capture

    email = (email or "").strip().lower()
    with transaction.atomic():
        lead = Lead.objects.filter(email__iexact=email).first()
        if lead is None:
            data = {
                "email": email,
                "business_name": (legal_business_name or "").strip(),
                "source": SIGNUP_SOURCE,
            }
            try:
                lead, _created = lead_capture(data=data, actor=None)
            except ValidationError as exc:
                raise DomainError(" ".join(exc.messages), code="invalid") from exc
        return merchant_account_create(
            lead=lead,
            password=password,
            legal_business_name=legal_business_name,
            base_url=base_url,
        )


def merchant_email_token(*, user) -> str:
    """A signed, timestamped token naming the user and the address it verifies: a token for
    an address the user no longer has verifies nothing."""
    from django.core import signing

    return signing.dumps({"user": str(user.pk), "email": user.email}, salt=EMAIL_VERIFY_SALT)


def merchant_email_verify_url(*, user, base_url: str = "") -> str:
    from django.urls import reverse

    token = merchant_email_token(user=user)
    base = (base_url or settings.PORTAL_BASE_URL or DEFAULT_BASE_URL).rstrip("/")
    return base + reverse("merchants:account_verify", args=[token])


def merchant_verification_email_send(*, merchant: Merchant, actor, base_url: str = ""):
    """Send the verification link again (the dashboard's "resend"), through the outbox."""
    from datetime import timedelta

    from apps.integrations.models import IntegrationEvent
    from apps.integrations.outbox import event_emit

    user = merchant.user
    if user is None:
        raise DomainError(NO_LOGIN, code="no_login")
    if user.email_verified_at is not None:
        raise DomainError(EMAIL_ALREADY_VERIFIED, code="already_verified")
    recent = IntegrationEvent.objects.filter(
        event_type="merchant.verification_email_requested",
        aggregate_id=merchant.pk,
        occurred_at__gte=timezone.now() - timedelta(seconds=VERIFY_RESEND_INTERVAL_SECONDS),
    )
    if recent.exists():
        raise DomainError(VERIFY_RESEND_TOO_SOON, code="resend_too_soon")
    with transaction.atomic():
        return event_emit(
            event_type="merchant.verification_email_requested",
            aggregate=merchant,
            payload={"base_url": base_url, "actor_id": str(actor.pk) if actor else None},
        )


def merchant_email_verify(*, token: str):
    """Mark the address in `token` verified. Valid for 3 days; verifying twice is harmless
    (the first time is kept). Returns the user."""
    from django.core import signing

    from apps.accounts.models import User
    from apps.integrations.outbox import event_emit

    try:
        data = signing.loads(token, salt=EMAIL_VERIFY_SALT, max_age=EMAIL_VERIFY_MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise DomainError(VERIFY_LINK_EXPIRED, code="link_expired") from exc
    except signing.BadSignature as exc:
        raise DomainError(VERIFY_LINK_INVALID, code="link_invalid") from exc
    if not isinstance(data, dict):
        raise DomainError(VERIFY_LINK_INVALID, code="link_invalid")
    user = User.objects.filter(pk=data.get("user"), email=data.get("email")).first()
    if user is None:
        raise DomainError(VERIFY_LINK_INVALID, code="link_invalid")
    if user.email_verified_at is not None:
        return user
    with transaction.atomic():
        user.email_verified_at = timezone.now()
        save_tracked(
            user, actor=user, reason="merchant_email_verify", update_fields=["email_verified_at"]
        )
        merchant = Merchant.objects.filter(user=user).first()
        if merchant is not None:
            event_emit(event_type="merchant.email_verified", aggregate=merchant)
    return user


# --- Dashboard: asking the account executive for a call ---------------------------------------

CALL_ALREADY_REQUESTED = (
    "You have already asked for a call: your account executive will contact you soon."
)
CALL_NOT_IN_PLAN = "A call with an account executive comes with the assisted and managed plans."
CALL_UNAVAILABLE = "Calls cannot be requested right now. Please try again later."
CALL_QUEUES = {"assisted": "ae_standard", "managed": "ae_high_priority"}


def merchant_call_request(*, merchant: Merchant, actor):
    """An assisted or managed merchant asks for a call: the lead goes to the AE queue of its
    cohort, unless it already waits in (or was taken from) an AE queue."""
    import logging

    from django.db.models import Q

    from apps.integrations.outbox import event_emit
    from apps.leads.models import Lead
    from apps.routing.models import (
        OPEN_ASSIGNMENT_STATUSES,
        QueueAssignment,
        QueueType,
        RoutingQueue,
    )
    from apps.routing.services import assignment_enqueue, lead_priority

    code = CALL_QUEUES.get(merchant.cohort)
    if code is None:
        raise DomainError(CALL_NOT_IN_PLAN, code="call_not_in_plan")
    queue = RoutingQueue.objects.filter(code=code, is_active=True).first()
    if queue is None:
        logging.getLogger(__name__).error("Call request refused: no active queue %s.", code)
        raise DomainError(CALL_UNAVAILABLE, code="call_unavailable")
    with transaction.atomic():
        Lead.objects.select_for_update().filter(pk=merchant.lead_id).first()
        already = QueueAssignment.objects.filter(
            Q(lead_id=merchant.lead_id) | Q(merchant=merchant),
            queue__queue_type=QueueType.AE,
            status__in=OPEN_ASSIGNMENT_STATUSES,
        ).exists()
        if already:
            raise DomainError(CALL_ALREADY_REQUESTED, code="call_already_requested")
        assignment = assignment_enqueue(
            queue=queue,
            lead=merchant.lead,
            merchant=merchant,
            priority=lead_priority(merchant.lead),
            reason="The merchant asked for a call from the dashboard.",
            actor=actor,
        )
        event_emit(
            event_type="merchant.call_requested",
            aggregate=merchant,
            payload={"queue": code, "assignment_id": str(assignment.pk)},
        )
    return assignment


# --- KYB (step 3): details, submission, decisions ---------------------------------------------

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
REVIEW_DECISIONS = (CheckStatus.APPROVED, CheckStatus.REJECTED)
REVIEW_DECISION_UNKNOWN = "A reviewer approves or rejects."
KYB_REVIEW_QUEUE = "compliance_review"
CASE_HELD_BY_OTHER = "{email} has taken this case from the compliance queue: only they decide it."


def _kyb_editable(merchant: Merchant) -> None:
    if merchant.kyb_status == CheckStatus.APPROVED:
        raise TransitionRefused(KYB_ALREADY_APPROVED, code="kyb_approved")
    if merchant.kyb_status not in (CheckStatus.PENDING, CheckStatus.REJECTED):
        raise TransitionRefused(KYB_BEING_VERIFIED, code="kyb_being_verified")


def ein_taken(*, merchant: Merchant, ein: str) -> bool:
    """Another merchant already has this EIN (compared through the keyed hash)."""
    from apps.merchants import pii

    return (
        Merchant.objects.filter(ein_hash=pii.keyed_hash(ein)).exclude(pk=merchant.pk).exists()
    )


def merchant_kyb_details_save(*, merchant: Merchant, actor, ein: str | None = None, **details):
    """Save the legal entity (while KYB is not submitted, or after a rejection). `ein` None
    or empty keeps the stored EIN. An EIN another merchant has is refused (code ein_taken)."""
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError

    from apps.merchants import pii

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
    from apps.progress.models import StepStatus
    from apps.progress.services import step_retry, step_start, step_unblock

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
    all or nothing."""
    with transaction.atomic():
        merchant_kyb_details_save(merchant=merchant, actor=actor, ein=ein, **details)
        _kyb_step_open(merchant, actor)
        merchant_kyb_submit(merchant=merchant, actor=actor)
    return merchant


def merchant_kyb_request(merchant: Merchant, *, masked: bool = True) -> dict:
    """What is sent to the KYB provider; `masked` (for audit rows and logs) keeps the EIN's
    last four digits only."""
    from apps.merchants import pii

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


def _kyb_review_enqueue(merchant: Merchant, *, reason: str) -> None:
    import logging

    from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment, RoutingQueue
    from apps.routing.services import assignment_enqueue

    queue = RoutingQueue.objects.filter(code=KYB_REVIEW_QUEUE, is_active=True).first()
    if queue is None:
        # The case still shows on the compliance review page, which lists every merchant
        # under review; only the queue item (and its SLA clock) is missing.
        logging.getLogger(__name__).error(
            "KYB review for merchant %s not queued: no active queue %s.",
            merchant.pk,
            KYB_REVIEW_QUEUE,
        )
        return
    if QueueAssignment.objects.filter(
        queue=queue, merchant=merchant, status__in=OPEN_ASSIGNMENT_STATUSES
    ).exists():
        return
    assignment_enqueue(
        queue=queue,
        merchant=merchant,
        reason=f"KYB review required: {reason}" if reason else "KYB review required",
        actor=None,
    )


def _kyb_decision_follow(merchant: Merchant, decision: str, *, reason: str, actor) -> None:
    """What a KYB decision means for the journey: approved completes step 3 and opens
    step 4; rejected fails step 3 with the reason (the merchant corrects and resubmits);
    review_required queues the case for compliance."""
    from apps.progress.models import StepStatus
    from apps.progress.services import step_complete, step_fail, step_start

    if decision == CheckStatus.REVIEW_REQUIRED:
        _kyb_review_enqueue(merchant, reason=reason)
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


def merchant_kyb_provider_decide(
    *,
    merchant: Merchant,
    decision: str,
    check_id: str,
    reason: str = "",
    risk_score: Decimal | None = None,
    response_payload: dict | None = None,
    provider: str = "sandbox",
) -> Merchant:
    """The payments provider's KYB decision (the `kyb.decision` webhook): the audit row,
    the lead qualified on approval, and the journey moved on (see _kyb_decision_follow)."""
    with transaction.atomic():
        merchant_kyb_decide(
            merchant=merchant,
            decision=decision,
            actor=None,
            notes=reason,
            provider=provider,
            reference=check_id,
            request_payload=merchant_kyb_request(merchant),
            response_payload=response_payload,
            risk_score=risk_score,
        )
        _kyb_decision_follow(merchant, decision, reason=reason, actor=None)
    return merchant


_HELD = ("assigned", "contacted", "in_progress")


def _kyb_review_holder(merchant: Merchant, actor):
    """The other reviewer who has taken this case from the compliance queue, if any: only
    they decide it (as only an item's holder works it; superusers may act for anyone)."""
    from apps.routing.models import QueueAssignment

    if actor.is_superuser:
        return None
    item = (
        QueueAssignment.objects.filter(
            queue__code=KYB_REVIEW_QUEUE, merchant=merchant, status__in=_HELD
        )
        .exclude(assigned_to=actor)
        .select_related("assigned_to")
        .first()
    )
    holder = item.assigned_to if item else None
    return holder if holder is not None and holder.is_active else None


def _kyb_review_resolve(merchant: Merchant, *, actor, note: str) -> None:
    """Close the case's compliance queue item: the deciding reviewer takes it (if nobody
    had), records the contact and resolves it, so the SLA figures count it. An item they
    cannot take (at their limit of open items) or that an inactive reviewer held is
    withdrawn instead, with the reason."""
    from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, AssignmentStatus, QueueAssignment
    from apps.routing.services import (
        assignment_assign,
        assignment_record_contact,
        assignment_resolve,
        assignment_withdraw,
    )

    items = QueueAssignment.objects.select_for_update(of=("self",)).select_related("queue")
    items = items.filter(
        queue__code=KYB_REVIEW_QUEUE, merchant=merchant, status__in=OPEN_ASSIGNMENT_STATUSES
    )
    for item in items:
        if item.status == AssignmentStatus.QUEUED:
            try:
                assignment_assign(assignment=item, agent=actor, actor=actor)
            except DomainError:
                assignment_withdraw(assignment=item, actor=actor, reason=f"case closed: {note}")
                continue
        elif item.assigned_to_id != actor.pk and not actor.is_superuser:
            assignment_withdraw(assignment=item, actor=actor, reason=f"case closed: {note}")
            continue
        if item.status == AssignmentStatus.ASSIGNED:
            assignment_record_contact(assignment=item, actor=actor)
        assignment_resolve(assignment=item, actor=actor, note=note)


def merchant_kyb_review_decide(
    *, merchant: Merchant, decision: str, notes: str, actor
) -> Merchant:
    """A compliance reviewer approves or rejects a KYB under review, with notes (required,
    kept in the audit log; a rejection's notes are the reason the merchant sees). The case
    leaves the compliance queue. A case another reviewer has taken is theirs to decide."""
    if decision not in REVIEW_DECISIONS:
        raise DomainError(REVIEW_DECISION_UNKNOWN, code="unknown_decision")
    notes = (notes or "").strip()
    with transaction.atomic():
        holder = _kyb_review_holder(merchant, actor)
        if holder is not None:
            raise TransitionRefused(
                CASE_HELD_BY_OTHER.format(email=holder.email), code="case_held_by_other"
            )
        merchant_kyb_decide(
            merchant=merchant,
            decision=decision,
            actor=actor,
            notes=notes,
            provider="compliance_review",
            request_payload=merchant_kyb_request(merchant),
        )
        _kyb_decision_follow(merchant, decision, reason=notes, actor=actor)
        _kyb_review_resolve(merchant, actor=actor, note=f"KYB {decision}: {notes}")
    return merchant


# --- Guided setup: steps 7 to 10 (persons and KYC, bank account, data import, hardware setup,
# final configuration and going live) ---------------------------------------------------------

SETUP_STEPS_NOT_SET_UP = "Your onboarding steps are not set up yet. Please try again later."
STEP_LOCKED = "Step {step} opens once {waiting} {verb} completed."
STEP_ON_HOLD = "This step is on hold: {reason}"
STEP_ALREADY_DONE = "This step is already done."
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
PERSON_FIELD_UNKNOWN = "These fields cannot be set here: {names}."
OWNERS_TOTAL_OVER_100 = (
    "Owners would hold {total} % in total: the owners' shares can add up to 100 % at most."
)
OWNERSHIP_REQUIRED = "Enter the share this owner holds, from 0 to 100 %."
OWNERSHIP_ONLY_OWNERS = "Only owners hold shares: leave the ownership empty for a representative."
NO_PERSONS = "Add the business's representative and owners first."
NOTHING_TO_SUBMIT = "Everyone was already sent for verification: nothing to submit."
KYC_REVIEW_QUEUE = "compliance_review"
KYC_REVIEW_DECISIONS = (CheckStatus.APPROVED, CheckStatus.REJECTED)
KYC_REVIEW_DECISION_UNKNOWN = "A reviewer approves or rejects."
BANK_ACCOUNT_REPLACED = "This bank account was replaced: verify the current one."
BANK_ACCOUNT_FIELDS = frozenset(
    {"account_holder_name", "account_type", "routing_number", "account_number", "bank_name"}
)
HOLDER_REQUIRED = "Enter the account holder's name."
IMPORT_KIND_UNKNOWN = "Choose what the file holds: products or customers."
IMPORT_DONE_NEEDS_AN_IMPORT = "Import a file first, or skip this step."
IMPORT_ERRORS_KEPT = 100
IMPORT_MORE_ERRORS = "… and {count} more problems."
HARDWARE_ITEM_UNKNOWN = "There is no such item on the hardware checklist."
HARDWARE_WAS_ORDERED = "Your order includes hardware: set it up with the checklist."
INTEGRATION_UNKNOWN = "Unknown integration: {names}."
GO_LIVE_MISSING_STEPS = "Finish these steps before going live: {steps}."
ALREADY_LIVE = "Your business is already live."
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
_SETUP_STEP_OPENERS = {"pending": "step_start", "failed": "step_retry"}


def ssn_formatted(digits_only: str) -> str:
    return f"{digits_only[:3]}-{digits_only[3:5]}-{digits_only[5:]}"


def _steps_named(steps) -> str:
    return "; ".join(f"step {step.id} ({step.step_name})" for step in steps)


def step_locked_message(gate) -> str:
    """"Step 7 opens once step 6 (Payment for Software & Hardware) is completed."."""
    if gate.progress is None or not gate.waiting_for:
        return SETUP_STEPS_NOT_SET_UP
    waiting = " and ".join(f"step {s.id} ({s.step_name})" for s in gate.waiting_for)
    verb = "is" if len(gate.waiting_for) == 1 else "are"
    return STEP_LOCKED.format(step=gate.step.id, waiting=waiting, verb=verb)


def _setup_gate(merchant: Merchant, step_id: int):
    """The step's gate, or a refusal saying which steps must be completed first."""
    from apps.merchants.selectors_setup import step_gate

    gate = step_gate(merchant=merchant, step_id=step_id)
    if not gate.open:
        raise TransitionRefused(step_locked_message(gate), code="step_locked")
    return gate


def _setup_step_open(merchant: Merchant, step_id: int, actor):
    """The merchant works on the step: started the first time, back in progress after a
    failure. A step on hold (blocked by our staff) refuses; a done step is left as it is.
    Returns the progress row, locked."""
    from apps.progress import services as progress_services
    from apps.progress.models import MerchantStepProgress, StepStatus

    gate = _setup_gate(merchant, step_id)
    progress = MerchantStepProgress.objects.select_for_update().get(pk=gate.progress.pk)
    if progress.status == StepStatus.BLOCKED:
        raise TransitionRefused(
            STEP_ON_HOLD.format(reason=progress.blocked_reason or "we will be in touch."),
            code="step_on_hold",
        )
    opener = _SETUP_STEP_OPENERS.get(progress.status)
    if opener is not None:
        getattr(progress_services, opener)(progress=progress, actor=actor)
    return progress


def _setup_step_touch(progress, *, actor, reason: str, data: dict | None = None) -> None:
    """Activity on a step (stall detection reads last_activity_at); `data` is merged into
    its step_data."""
    fields = ["last_activity_at", "updated_at"]
    progress.last_activity_at = timezone.now()
    if data is not None:
        progress.step_data = {**(progress.step_data or {}), **data}
        fields.append("step_data")
    save_tracked(progress, actor=actor, reason=reason, update_fields=fields)


def _setup_step_finish(merchant: Merchant, step_id: int, *, actor) -> bool:
    """Complete the step, starting it first when it may start. False when it cannot be
    completed now (locked, on hold); True when it is done (or was)."""
    from apps.merchants.selectors_setup import step_gate
    from apps.progress import services as progress_services
    from apps.progress.models import DONE_STEP_STATUSES, MerchantStepProgress, StepStatus

    gate = step_gate(merchant=merchant, step_id=step_id)
    if gate.progress is None:
        return False
    progress = MerchantStepProgress.objects.select_for_update().get(pk=gate.progress.pk)
    if progress.status in DONE_STEP_STATUSES:
        return True
    if progress.status == StepStatus.BLOCKED or not gate.open:
        return False
    opener = _SETUP_STEP_OPENERS.get(progress.status)
    if opener is not None:
        getattr(progress_services, opener)(progress=progress, actor=actor)
    progress_services.step_complete(progress=progress, actor=actor)
    return True


def _setup_step_fail(merchant: Merchant, step_id: int, *, actor, error: str) -> None:
    """Count an error on a step in progress (three make an error_threshold alert)."""
    from apps.progress.models import MerchantStepProgress, StepStatus
    from apps.progress.services import step_fail

    progress = (
        MerchantStepProgress.objects.select_for_update()
        .filter(merchant=merchant, step_id=step_id, status=StepStatus.IN_PROGRESS)
        .first()
    )
    if progress is not None:
        step_fail(progress=progress, actor=actor, error=error[:2000])


def _merchant_lock(merchant: Merchant) -> None:
    """Serialise changes to one merchant's persons (the owners' total is a sum of rows)."""
    list(Merchant.objects.select_for_update().filter(pk=merchant.pk).values_list("pk"))


# --- Step 7: persons --------------------------------------------------------------------------


def _persons_changeable(merchant: Merchant) -> None:
    if Merchant.objects.filter(pk=merchant.pk, payments_activated=True).exists():
        raise TransitionRefused(PERSONS_LOCKED_PAYMENTS_ACTIVE, code="payments_active")


def _owners_check(merchant: Merchant, person: MerchantPerson) -> None:
    from apps.merchants.selectors_setup import OWNER_TYPES, owners_total

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
    from django.core.exceptions import ValidationError

    from apps.merchants import validators
    from apps.merchants.selectors_setup import OWNER_TYPES

    unknown = set(fields) - _PERSON_FIELDS
    if unknown:
        raise DomainError(PERSON_FIELD_UNKNOWN.format(names=", ".join(sorted(unknown))))
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
    not completed, once payments are active, or when owners would hold more than 100 %."""
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


def person_kyc_request(person: MerchantPerson, *, masked: bool = True) -> dict:
    """What is sent to the KYC provider; `masked` (audit rows, logs) keeps the SSN's last
    four digits and no date of birth."""
    from apps.merchants import pii

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
    from apps.integrations.outbox import event_emit
    from apps.merchants.selectors_setup import OWNER_TYPES, REPRESENTATIVE_TYPES

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


def _kyc_review_enqueue(person: MerchantPerson, *, reason: str):
    """Queue the merchant for the compliance review (one open item per merchant: a KYB
    case already queued covers it too)."""
    import logging

    from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, QueueAssignment, RoutingQueue
    from apps.routing.services import assignment_enqueue

    merchant = person.merchant
    queue = RoutingQueue.objects.filter(code=KYC_REVIEW_QUEUE, is_active=True).first()
    if queue is None:
        logging.getLogger(__name__).error(
            "KYC review of person %s not queued: no active queue %s.", person.pk, KYC_REVIEW_QUEUE
        )
        return None
    existing = QueueAssignment.objects.filter(
        queue=queue, merchant=merchant, status__in=OPEN_ASSIGNMENT_STATUSES
    ).first()
    if existing is not None:
        return existing
    return assignment_enqueue(
        queue=queue,
        merchant=merchant,
        reason=f"KYC review required: {person}" + (f" ({reason})" if reason else ""),
        actor=None,
    )


def person_kyc_provider_decide(
    *,
    person: MerchantPerson,
    decision: str,
    check_id: str,
    reason: str = "",
    risk_score: Decimal | None = None,
    response_payload: dict | None = None,
    provider: str = "sandbox",
) -> MerchantPerson:
    """The payments provider's KYC decision (the `kyc.decision` webhook): the audit row and
    the derived merchant KYC; a rejection counts as an error on step 7 (the merchant
    corrects and resubmits), review_required queues the case for compliance. Approval of
    the last person activates payments through the merchant.kyc_approved event."""
    with transaction.atomic():
        person_kyc_decide(
            person=person,
            decision=decision,
            actor=None,
            notes=reason,
            provider=provider,
            reference=check_id,
            request_payload=person_kyc_request(person),
            response_payload=response_payload,
            risk_score=risk_score,
        )
        if decision == CheckStatus.REJECTED:
            _setup_step_fail(
                person.merchant, 7, actor=None, error=f"KYC rejected for {person}: {reason}"
            )
        elif decision == CheckStatus.REVIEW_REQUIRED:
            _kyc_review_enqueue(person, reason=reason)
    return person


def _kyc_review_resolve(merchant: Merchant, *, actor, note: str) -> None:
    """Close the merchant's compliance queue item once nothing of it is under review."""
    from apps.routing.models import OPEN_ASSIGNMENT_STATUSES, AssignmentStatus, QueueAssignment
    from apps.routing.services import (
        assignment_assign,
        assignment_record_contact,
        assignment_resolve,
    )

    merchant = Merchant.objects.get(pk=merchant.pk)
    if merchant.kyb_status == CheckStatus.REVIEW_REQUIRED or merchant.persons.filter(
        kyc_status=CheckStatus.REVIEW_REQUIRED
    ).exists():
        return
    items = QueueAssignment.objects.select_for_update().filter(
        queue__code=KYC_REVIEW_QUEUE, merchant=merchant, status__in=OPEN_ASSIGNMENT_STATUSES
    )
    for item in items:
        if item.status == AssignmentStatus.QUEUED:
            assignment_assign(assignment=item, agent=actor, actor=actor)
        if item.status == AssignmentStatus.ASSIGNED:
            assignment_record_contact(assignment=item, actor=actor)
        assignment_resolve(assignment=item, actor=actor, note=note)


def person_kyc_review_decide(
    *, person: MerchantPerson, decision: str, notes: str, actor
) -> MerchantPerson:
    """A compliance reviewer approves or rejects a person's KYC under review, with notes
    (required, kept in the audit log). The merchant's compliance queue item is resolved
    once nothing of it is under review any more."""
    if decision not in KYC_REVIEW_DECISIONS:
        raise DomainError(KYC_REVIEW_DECISION_UNKNOWN, code="unknown_decision")
    notes = (notes or "").strip()
    with transaction.atomic():
        person_kyc_decide(
            person=person,
            decision=decision,
            actor=actor,
            notes=notes,
            provider="compliance_review",
            request_payload=person_kyc_request(person),
        )
        _kyc_review_resolve(person.merchant, actor=actor, note=f"KYC {decision}: {notes}")
    return person


# --- Bank account -----------------------------------------------------------------------------


def bank_account_submit(*, merchant: Merchant, actor, **details) -> MerchantBankAccount:
    """The bank account page's form: a new primary payout account (replacing the current
    one), its numbers checked first. Open from step 7 on."""
    from django.core.exceptions import ValidationError

    from apps.merchants import validators

    unknown = set(details) - BANK_ACCOUNT_FIELDS
    if unknown:
        raise DomainError(PERSON_FIELD_UNKNOWN.format(names=", ".join(sorted(unknown))))
    _setup_gate(merchant, 7)
    details = {k: v.strip() if isinstance(v, str) else v for k, v in details.items()}
    if not details.get("account_holder_name"):
        raise DomainError(HOLDER_REQUIRED, code="holder_required")
    from apps.merchants.models import AccountType

    if details.get("account_type", AccountType.CHECKING) not in AccountType.values:
        raise DomainError("Choose checking or savings.", code="account_type")
    try:
        details["routing_number"] = validators.validate_routing_number(
            details.get("routing_number", "")
        )
        details["account_number"] = validators.validate_account_number(
            details.get("account_number", "")
        )
    except ValidationError as exc:
        raise DomainError(exc.messages[0], code="invalid") from exc
    return bank_account_add(merchant=merchant, actor=actor, **details)


def bank_account_verify(*, bank_account: MerchantBankAccount, actor) -> MerchantBankAccount:
    """"Verify" and "Try again": the primary account goes to the provider (outbox)."""
    if not bank_account.is_primary:
        raise TransitionRefused(BANK_ACCOUNT_REPLACED, code="bank_account_replaced")
    _setup_gate(bank_account.merchant, 7)
    return bank_account_verification_start(bank_account=bank_account, actor=actor)


def bank_account_verification_request(bank_account: MerchantBankAccount) -> dict:
    return {
        "bank_account_id": str(bank_account.pk),
        "merchant_id": str(bank_account.merchant_id),
        "routing_number": bank_account.routing_number,
        "account_number": bank_account.account_number,
        "holder": bank_account.account_holder_name,
        "account_type": bank_account.account_type,
    }


# --- Step 8: data import ----------------------------------------------------------------------


def _import_upsert(merchant: Merchant, record, rows: list[dict], *, actor) -> tuple[int, int]:
    """Create the new rows and update those already imported (same SKU / email), with
    history. Returns (created, updated)."""
    from simple_history.utils import bulk_create_with_history, bulk_update_with_history

    from apps.merchants.models import DataImportKind, ImportedCustomer, ImportedProduct

    if record.kind == DataImportKind.PRODUCTS:
        model, key, fields = ImportedProduct, "sku", ["name", "price", "quantity", "category"]
    else:
        model, key, fields = ImportedCustomer, "email", ["first_name", "last_name", "phone"]
    existing = {
        getattr(obj, key): obj
        for obj in model.objects.select_for_update().filter(
            merchant=merchant, **{f"{key}__in": [row[key] for row in rows]}
        )
    }
    now = timezone.now()
    created, updated = [], []
    for row in rows:
        obj = existing.get(row[key])
        if obj is None:
            obj = model(merchant=merchant, data_import=record, **{key: row[key]})
            created.append(obj)
        else:
            obj.data_import = record
            obj.updated_at = now
            updated.append(obj)
        for name in fields:
            setattr(obj, name, row[name])
    reason = f"data_import_run: {record.filename}"
    if created:
        bulk_create_with_history(
            created, model, batch_size=500, default_user=actor, default_change_reason=reason
        )
    if updated:
        bulk_update_with_history(
            updated,
            model,
            [*fields, "data_import", "updated_at"],
            batch_size=500,
            default_user=actor,
            default_change_reason=reason,
        )
    return len(created), len(updated)


def data_import_run(*, merchant: Merchant, kind: str, upload, actor):
    """Import one CSV of products or customers (step 8, which this starts). All or nothing:
    every row is checked first; one bad row, a wrong header, a wrong encoding or a file over
    the limits (settings DATA_IMPORT_MAX_BYTES / DATA_IMPORT_MAX_ROWS) saves no row and
    records the refused import with its errors by line (and counts an error on step 8).
    Rows already imported (same SKU or email) are updated. Returns the DataImport."""
    import os

    from django.conf import settings

    from apps.integrations.outbox import event_emit
    from apps.merchants import validators
    from apps.merchants.models import DataImport, DataImportKind, DataImportStatus

    if kind not in DataImportKind.values:
        raise DomainError(IMPORT_KIND_UNKNOWN, code="import_kind_unknown")
    with transaction.atomic():
        _setup_step_open(merchant, 8, actor)
    limit = settings.DATA_IMPORT_MAX_BYTES
    filename = os.path.basename(str(getattr(upload, "name", "") or "upload.csv"))[:255]
    size = getattr(upload, "size", None)
    content = b"" if size is not None and size > limit else upload.read(limit + 1)
    if (size is not None and size > limit) or len(content) > limit:
        parsed = validators.ParsedImport(
            errors=[validators.import_too_large_message(max(size or 0, len(content)), limit)]
        )
    else:
        parsed = validators.parse_import_csv(
            kind, content, max_rows=settings.DATA_IMPORT_MAX_ROWS
        )
    record = DataImport(
        merchant=merchant,
        kind=kind,
        filename=filename,
        row_count=parsed.row_count,
        created_by=actor,
    )
    if parsed.errors:
        errors = parsed.errors[:IMPORT_ERRORS_KEPT]
        if len(parsed.errors) > IMPORT_ERRORS_KEPT:
            errors.append(IMPORT_MORE_ERRORS.format(count=len(parsed.errors) - IMPORT_ERRORS_KEPT))
        record.status = DataImportStatus.FAILED
        record.errors = errors
        with transaction.atomic():
            save_tracked(record, actor=actor, reason="data_import_run: refused")
            _setup_step_fail(
                merchant,
                8,
                actor=actor,
                error=f"Import of {filename} refused: {len(parsed.errors)} problem(s).",
            )
            event_emit(
                event_type="data_import.failed",
                aggregate=record,
                payload={"kind": kind, "errors": len(parsed.errors)},
            )
        return record
    with transaction.atomic():
        record.status = DataImportStatus.COMPLETED
        save_tracked(record, actor=actor, reason="data_import_run")
        record.created_count, record.updated_count = _import_upsert(
            merchant, record, parsed.rows, actor=actor
        )
        save_tracked(
            record,
            actor=actor,
            reason="data_import_run: counts",
            update_fields=["created_count", "updated_count", "updated_at"],
        )
        event_emit(
            event_type="data_import.completed",
            aggregate=record,
            payload={
                "kind": kind,
                "rows": record.row_count,
                "created": record.created_count,
                "updated": record.updated_count,
            },
        )
    return record


def _step_not_done(merchant: Merchant, step_id: int):
    from apps.progress.models import DONE_STEP_STATUSES

    gate = _setup_gate(merchant, step_id)
    if gate.status in DONE_STEP_STATUSES:
        raise TransitionRefused(STEP_ALREADY_DONE, code="step_done")
    return gate


def data_import_finish(*, merchant: Merchant, actor) -> None:
    """"Done with imports": step 8 completed, once at least one file was imported."""
    from apps.merchants.models import DataImportStatus

    with transaction.atomic():
        _step_not_done(merchant, 8)
        if not merchant.data_imports.filter(status=DataImportStatus.COMPLETED).exists():
            raise DomainError(IMPORT_DONE_NEEDS_AN_IMPORT, code="no_import")
        _setup_step_open(merchant, 8, actor)
        _setup_step_finish(merchant, 8, actor=actor)


def data_import_skip(*, merchant: Merchant, actor) -> None:
    """"Skip this step": data import is optional."""
    from apps.progress.services import step_skip

    with transaction.atomic():
        _step_not_done(merchant, 8)
        progress = _setup_step_open(merchant, 8, actor)
        step_skip(progress=progress, actor=actor)


# --- Step 9: hardware setup -------------------------------------------------------------------


def _hardware_open(merchant: Merchant, actor):
    from apps.merchants.selectors_setup import hardware_setup_available
    from apps.progress.models import DONE_STEP_STATUSES

    available = hardware_setup_available(merchant)
    if not available:
        raise TransitionRefused(available.reason, code="hardware_setup_unavailable")
    progress = _setup_step_open(merchant, 9, actor)
    if progress.status in DONE_STEP_STATUSES:
        raise TransitionRefused(STEP_ALREADY_DONE, code="step_done")
    return progress


def hardware_setup_item_set(*, merchant: Merchant, item: str, done: bool, actor):
    """Tick (or untick) one item of the hardware checklist, kept in step 9's step_data;
    the last item ticked completes step 9."""
    from apps.merchants.selectors_setup import HARDWARE_CHECKLIST
    from apps.progress.services import step_complete

    keys = [key for key, _label in HARDWARE_CHECKLIST]
    if item not in keys:
        raise DomainError(HARDWARE_ITEM_UNKNOWN, code="unknown_item")
    with transaction.atomic():
        progress = _hardware_open(merchant, actor)
        checklist = {**((progress.step_data or {}).get("checklist") or {}), item: bool(done)}
        _setup_step_touch(
            progress,
            actor=actor,
            reason=f"hardware_setup_item_set: {item} {'done' if done else 'not done'}",
            data={"checklist": checklist},
        )
        if all(checklist.get(key) for key in keys):
            step_complete(progress=progress, actor=actor)
    return progress


def hardware_setup_complete_without_hardware(*, merchant: Merchant, actor):
    """Step 9 for a software-only merchant (paid orders, none with hardware)."""
    from apps.merchants.selectors_setup import hardware_ordered
    from apps.progress.services import step_complete

    if hardware_ordered(merchant=merchant) is not False:
        raise TransitionRefused(HARDWARE_WAS_ORDERED, code="hardware_ordered")
    with transaction.atomic():
        progress = _hardware_open(merchant, actor)
        _setup_step_touch(
            progress,
            actor=actor,
            reason="hardware_setup_complete_without_hardware",
            data={"no_hardware": True},
        )
        step_complete(progress=progress, actor=actor)
    return progress


# --- Step 10: final configuration and going live ----------------------------------------------


def final_config_save(*, merchant: Merchant, integrations: list[str], actor):
    """The integrations the merchant wants (step 10's step_data), starting step 10."""
    from apps.merchants.selectors_setup import INTEGRATION_CHOICES

    known = [key for key, _label in INTEGRATION_CHOICES]
    unknown = sorted(set(integrations) - set(known))
    if unknown:
        raise DomainError(INTEGRATION_UNKNOWN.format(names=", ".join(unknown)), code="unknown")
    chosen = [key for key in known if key in set(integrations)]
    with transaction.atomic():
        progress = _setup_step_open(merchant, 10, actor)
        _setup_step_touch(
            progress,
            actor=actor,
            reason=f"final_config_save: {', '.join(chosen) or 'no integrations'}",
            data={"integrations": chosen},
        )
    return progress


def merchant_go_live(*, merchant: Merchant, actor) -> Merchant:
    """"Go live": with every required step completed, the optional ones still open are
    closed (final configuration completed with its choices; data import completed when a
    file was imported, else skipped), the journey is completed (the merchant becomes
    active) and a qualified lead is converted. Refused with the list of missing steps."""
    from apps.leads.models import Lead, LeadStatus
    from apps.leads.services import lead_convert
    from apps.merchants.models import DataImportStatus, JourneyStatus
    from apps.merchants.selectors_setup import required_steps_missing
    from apps.progress.models import MerchantStepProgress, StepStatus
    from apps.progress.services import step_retry, step_skip

    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if merchant.is_active or merchant.journey_status == JourneyStatus.COMPLETED:
            raise TransitionRefused(ALREADY_LIVE, code="already_live")
        missing = required_steps_missing(merchant=merchant)
        if missing:
            raise TransitionRefused(
                GO_LIVE_MISSING_STEPS.format(steps=_steps_named(missing)), code="steps_missing"
            )
        _setup_step_finish(merchant, 10, actor=actor)
        imported = merchant.data_imports.filter(status=DataImportStatus.COMPLETED).exists()
        data_step = (
            MerchantStepProgress.objects.select_for_update()
            .filter(merchant=merchant, step_id=8)
            .first()
        )
        if data_step is not None and imported:
            _setup_step_finish(merchant, 8, actor=actor)
        elif data_step is not None and data_step.status in (
            StepStatus.PENDING,
            StepStatus.IN_PROGRESS,
            StepStatus.FAILED,
        ):
            if data_step.status == StepStatus.FAILED:
                step_retry(progress=data_step, actor=actor)
            step_skip(progress=data_step, actor=actor)
        merchant.refresh_from_db()
        merchant_journey_complete(merchant=merchant, actor=actor)
        lead = Lead.objects.select_for_update().get(pk=merchant.lead_id)
        if lead.status == LeadStatus.QUALIFIED:
            lead_convert(lead=lead, actor=actor, reason="merchant went live")
    return merchant


# --- Accounts in external systems (orders: purchase-and-provision saga) ----------------------

X_SERIES_BEFORE_KYB = "An X-Series account is created only after business verification (KYB)."
EXTERNAL_ID_TAKEN = "This business already has another {system} account ({current})."


def merchant_external_ids_set(
    *,
    merchant: Merchant,
    x_series_account_id: str | None = None,
    payments_account_id: str | None = None,
    billing_customer_id: str | None = None,
    actor=None,
) -> Merchant:
    """Record the accounts the purchase saga (or checkout) created for the business. Only the
    ids given are written; giving an id already recorded changes nothing (the saga may run a
    step twice), while a different id for an account already recorded is refused: one
    business, one account per system. Rule 1: no X-Series account before KYB approval (the
    check constraint kyb_before_purchase refuses it too)."""
    wanted = {
        "x_series_account_id": (x_series_account_id, "X-Series"),
        "payments_account_id": (payments_account_id, "payments"),
        "billing_customer_id": (billing_customer_id, "billing"),
    }
    with transaction.atomic():
        current = Merchant.objects.select_for_update().get(pk=merchant.pk)
        changed = []
        for field, (value, system) in wanted.items():
            if not value or getattr(current, field) == value:
                continue
            if getattr(current, field):
                raise DomainError(
                    EXTERNAL_ID_TAKEN.format(system=system, current=getattr(current, field)),
                    code="external_id_taken",
                )
            changed.append(field)
        if "x_series_account_id" in changed and current.kyb_status != CheckStatus.APPROVED:
            raise DomainError(X_SERIES_BEFORE_KYB, code="kyb_required")
        if not changed:
            return merchant
        for field in changed:
            setattr(current, field, wanted[field][0])
        save_tracked(
            current,
            actor=actor,
            reason="merchant_external_ids_set: " + ", ".join(changed),
            update_fields=[*changed, "updated_at"],
        )
        from apps.integrations.outbox import event_emit

        event_emit(
            event_type="merchant.external_ids_set",
            aggregate=current,
            payload={field: wanted[field][0] for field in changed},
        )
    for field in changed:
        setattr(merchant, field, getattr(current, field))
    return merchant
