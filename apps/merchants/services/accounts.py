"""Step 2 and the merchant's login: account creation (from a lead's link or a plain
sign-up), the email verification link (sent through the outbox, valid 3 days) and, from
the dashboard, an assisted or managed merchant asking its account executive for a call.
Refusals are DomainErrors carrying the messages below.

A lead becomes a merchant only through proof that its address is the signer's: the account
link emailed to that address (the account is then verified at once). A plain sign-up for an
address we already have a lead for creates nothing: the address is emailed its link. Until
the email is verified, a merchant may look around but not submit KYB, pay, or enter people
or bank details (merchant_email_verified_check)."""

import logging
from datetime import timedelta

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import MERCHANT
from apps.core.errors import DomainError
from apps.core.fsm import save_tracked
from apps.core.links import absolute_url
from apps.integrations.models import IntegrationEvent
from apps.integrations.outbox import event_emit
from apps.leads.models import Cohort, Lead
from apps.leads.services import lead_account_link_request, lead_capture
from apps.merchants.choices import BusinessStructure
from apps.merchants.models import Merchant
from apps.progress.services import merchant_progress_create, step_complete, step_start
from apps.routing.models import (
    OPEN_ASSIGNMENT_STATUSES,
    QueueAssignment,
    QueueType,
    RoutingQueue,
)
from apps.routing.services.routing import assignment_enqueue, lead_priority

logger = logging.getLogger(__name__)

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
SIGNUP_SOURCE = "account_signup"
ACCOUNT_LINK_SENT = (
    "If we know {email}, we have sent it a link to continue where you left off: open it to "
    "carry on (it is valid for 7 days). Nothing arrived? Check the spelling and your spam "
    "folder."
)
LEAD_HAS_ACCOUNT_SIGN_IN = (
    "This business already has an account: sign in to continue where you left off."
)
EMAIL_NOT_VERIFIED = (
    "Confirm your email address first: open the link we sent to {email}, or send it again "
    "from your dashboard. Until then you can look around, but not submit your business for "
    "verification, pay, or enter owners' or bank details."
)


class AccountLinkSent(DomainError):
    """Not a failure: the address has a lead, so only the emailed link may claim it."""


def merchant_email_verified_check(merchant: Merchant) -> None:
    """Refuse (DomainError "email_not_verified") while the merchant's login has not proven its
    address: KYB, payment, people and bank details wait for it."""
    user = merchant.user
    if user is not None and user.email_verified_at is None:
        raise DomainError(EMAIL_NOT_VERIFIED.format(email=user.email), code="email_not_verified")


def merchant_account_create(
    *,
    lead,
    password: str,
    legal_business_name: str,
    actor=None,
    base_url: str = "",
    email_proven: bool = False,
) -> Merchant:
    """Step 2: the lead becomes a merchant. Creates the login (role merchant, usable at once),
    the Merchant (cohort from the lead), its ten progress rows with steps 1 and 2 done.
    `email_proven` (the signer came through the account link emailed to the lead): the
    address counts as verified; otherwise the verification email goes out through the
    outbox. `base_url` ("https://portal.example.com") roots the link."""
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
                email_verified_at=timezone.now() if email_proven else None,
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
            if not email_proven:
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
    """Account creation without a lead's link, for an address we have no lead for: a new
    lead is captured and profiled for it and becomes a merchant (its email to be verified).
    For an address we know (a lead, with or without an account, or any login), nothing is
    created: a lead's address is emailed how to continue (its account link, or a "continue
    where you left off" link once it has an account) and AccountLinkSent is raised with the
    same words in every case (whoever typed the address may not be its owner). All or
    nothing: a refused account leaves no new lead behind."""
    email = (email or "").strip().lower()
    lead = Lead.objects.filter(email__lower=email).first()
    known_login = User.objects.filter(email__iexact=email).exists()
    if lead is not None or known_login:
        # One answer whatever we know of the address (a lead, a merchant's account, a staff
        # login): the address itself is emailed how to continue, the page says only that.
        if lead is not None:
            with transaction.atomic():
                lead_account_link_request(lead, base_url=base_url, returning=True)
        raise AccountLinkSent(ACCOUNT_LINK_SENT.format(email=email), code="account_link_sent")
    with transaction.atomic():
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
    return signing.dumps({"user": str(user.pk), "email": user.email}, salt=EMAIL_VERIFY_SALT)


def merchant_email_verify_url(*, user, base_url: str = "") -> str:
    token = merchant_email_token(user=user)
    return absolute_url(reverse("merchants:account_verify", args=[token]), base_url=base_url)


def merchant_verification_email_send(*, merchant: Merchant, actor, base_url: str = ""):
    """Send the verification link again (the dashboard's "resend"), through the outbox."""
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


# --- Dashboard: asking the account executive for a call --------------------------------------

CALL_ALREADY_REQUESTED = (
    "You have already asked for a call: your account executive will contact you soon."
)
CALL_NOT_IN_PLAN = "A call with an account executive comes with the assisted and managed plans."
CALL_UNAVAILABLE = "Calls cannot be requested right now. Please try again later."
CALL_QUEUES = {"assisted": "ae_standard", "managed": "ae_high_priority"}


CALL_REQUEST_REASON = "The merchant asked for a call from the dashboard."


def merchant_call_request(*, merchant: Merchant, actor, reason: str = CALL_REQUEST_REASON):
    """An assisted or managed merchant asks for a call: the lead goes to the AE queue of its
    cohort, unless it already waits in (or was taken from) an AE queue. Staff ask for a call
    back through the same path, saying why in `reason`."""
    code = CALL_QUEUES.get(merchant.cohort)
    if code is None:
        raise DomainError(CALL_NOT_IN_PLAN, code="call_not_in_plan")
    queue = RoutingQueue.objects.filter(code=code, is_active=True).first()
    if queue is None:
        logger.error("Call request refused: no active queue %s.", code)
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
            reason=reason,
            actor=actor,
        )
        event_emit(
            event_type="merchant.call_requested",
            aggregate=merchant,
            payload={"queue": code, "assignment_id": str(assignment.pk)},
        )
    return assignment
