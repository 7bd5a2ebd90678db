"""Outbox and webhook handlers of steps 2-3: the verification email, the KYB check sent to
the payments provider and its decision coming back.

Each handler is idempotent (delivery is at least once): the email and the KYB submission go
out once per outbox event (its id is the provider's idempotency key). A provider's decision
applies only to the check it answers: the check id we sent, still outstanding. Once a case
is in compliance review only a reviewer moves it. Anything else is kept on the webhook row
as ignored, with why (WebhookIgnored), and changes nothing.
"""

import logging
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from apps.integrations import providers, registry
from apps.integrations.delivery import registers_push, sync_push
from apps.integrations.inbox import WebhookIgnored, handles_webhook
from apps.integrations.models import ExternalSystemSync, SyncStatus
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.merchants.services.accounts import merchant_email_verify_url
from apps.merchants.services.decisions import DECISIONS, ProviderAnswer
from apps.merchants.services.kyb import merchant_kyb_provider_decide, merchant_kyb_request

logger = logging.getLogger(__name__)

KYB_ENTITY = "merchant_kyb"
PAYMENTS = "payments"
VERIFY_EMAIL_SUBJECT = "Confirm your email address"
IGNORED_UNKNOWN_SUBJECT = "No {subject} {id} here."
IGNORED_IN_REVIEW = (
    "The {check} case is in compliance review: only a reviewer's decision moves it now."
)
IGNORED_NOT_OUTSTANDING = "No {check} check is outstanding: the {check} status is {status}."
IGNORED_OTHER_CHECK = (
    "This answers check {check_id!r}, but the outstanding {check} check is {sent}."
)


def _provider(system: str):
    return providers.get_provider(system)


def provider_label(system: str) -> str:
    """How the audit log names who decided: the sandbox, or the real provider."""
    return "sandbox" if providers.provider_mode(system) == "sandbox" else system


# --- Verification email -----------------------------------------------------------------------


@registry.handles("merchant.verification_email_requested")
def verification_email_send(event) -> None:
    merchant = Merchant.objects.select_related("user").filter(pk=event.aggregate_id).first()
    user = merchant.user if merchant else None
    if user is None or user.email_verified_at is not None:
        return
    link = merchant_email_verify_url(user=user, base_url=event.event_payload.get("base_url", ""))
    body = render_to_string(
        "merchants/email/verify_email.txt",
        {"user": user, "merchant": merchant, "link": link, "valid_days": 3},
    )
    _provider("email").send(
        idempotency_key=str(event.pk), to=user.email, subject=VERIFY_EMAIL_SUBJECT, body=body
    )


# --- KYB: submission to the payments provider -------------------------------------------------


@registry.handles("merchant.kyb_submitted")
def kyb_submitted_push(event) -> None:
    sync_push(entity_type=KYB_ENTITY, entity_id=event.aggregate_id, system=PAYMENTS, event=event)


@registers_push(KYB_ENTITY, PAYMENTS)
def payments_submit_kyb(sync, event) -> str:
    """Send the legal entity for its KYB check; the check id is the sync's external id."""
    merchant = Merchant.objects.get(pk=sync.entity_id)
    result = _provider(PAYMENTS).submit_kyb(
        idempotency_key=str(event.pk), business=merchant_kyb_request(merchant, masked=False)
    )
    return result["check_id"]


# --- KYB: the provider's decision -------------------------------------------------------------


def _risk_score(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def outstanding_check_id(entity_type: str, entity_id) -> str:
    """The id of the check we sent for this entity and the provider acknowledged (the push's
    external id). Locks the sync row: a push still recording its check id finishes first."""
    sync = (
        ExternalSystemSync.objects.select_for_update()
        .filter(entity_type=entity_type, entity_id=entity_id, external_system=PAYMENTS)
        .first()
    )
    if sync is None or sync.sync_status != SyncStatus.SYNCED:
        return ""
    return sync.external_entity_id


def check_answer_refusal(*, check: str, status: str, check_id: str, sent: str) -> str:
    """Why a provider's decision must not apply to a subject in `status` whose outstanding
    check is `sent`; empty when it applies."""
    if status == CheckStatus.REVIEW_REQUIRED:
        return IGNORED_IN_REVIEW.format(check=check)
    if status != CheckStatus.SUBMITTED:
        return IGNORED_NOT_OUTSTANDING.format(check=check, status=status)
    if not check_id or check_id != sent:
        return IGNORED_OTHER_CHECK.format(
            check=check, check_id=check_id, sent=repr(sent) if sent else "none recorded"
        )
    return ""


def provider_answer(webhook, *, check: str) -> ProviderAnswer:
    """A kyb.decision or kyc.decision webhook's data as the provider-decide services take
    it, but for `provider` (see provider_label). `check` ("KYB", "KYC") names the check in
    the error an unknown decision raises."""
    data = webhook.payload.get("data") or {}
    decision, check_id = data.get("decision"), str(data.get("check_id") or "")
    if decision not in DECISIONS:
        # Kept as a failed webhook, visible to ops: the provider sent something we do not know.
        raise ValueError(f"Unknown {check} decision {decision!r} for check {check_id!r}.")
    return ProviderAnswer(
        decision=decision,
        check_id=check_id,
        reason=str(data.get("reason") or ""),
        risk_score=_risk_score(data.get("risk_score")),
        response_payload=data,
    )


def decided_subject(webhook, *, check: str, subjects, id_key: str, status_field: str, entity: str):
    """The merchant or person a kyb.decision / kyc.decision answers, locked, with the answer
    as the provider-decide services take it. WebhookIgnored (with why) when there is no such
    subject or the answer is not for its outstanding check."""
    answer = provider_answer(webhook, check=check)
    data = answer["response_payload"]
    try:
        subject = subjects.select_for_update().filter(pk=data.get(id_key)).first()
    except ValidationError:  # not a UUID
        subject = None
    if subject is None:
        noun = subjects.model._meta.verbose_name
        raise WebhookIgnored(IGNORED_UNKNOWN_SUBJECT.format(subject=noun, id=data.get(id_key)))
    refusal = check_answer_refusal(
        check=check,
        status=getattr(subject, status_field),
        check_id=answer["check_id"],
        sent=outstanding_check_id(entity, subject.pk),
    )
    if refusal:
        logger.info("%s decision for %s ignored: %s", check, subject.pk, refusal)
        raise WebhookIgnored(refusal)
    return subject, answer


@handles_webhook(PAYMENTS, "kyb.decision")
def kyb_decision_received(webhook) -> None:
    """data: {"merchant_id", "check_id", "decision", "reason", "risk_score"}."""
    merchant, answer = decided_subject(
        webhook,
        check="KYB",
        subjects=Merchant.objects.all(),
        id_key="merchant_id",
        status_field="kyb_status",
        entity=KYB_ENTITY,
    )
    merchant_kyb_provider_decide(merchant=merchant, provider=provider_label(PAYMENTS), **answer)
