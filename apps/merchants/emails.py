"""The emails that tell a merchant an outcome changed what they must do (KYB approved,
rejected or in review, an owner's KYC rejected, the bank account not verified, hardware
shipped, going live, a quote ready), and the fresh link asked for from an expired one.

Each is sent from an outbox handler, so a failure is retried; each goes out once per event
(the idempotency key the handler passes). Plain text and HTML from one context; the one link
in each is absolute and a step link (apps.core.links.step_link_url): signed, expiring after
STEP_LINK_MAX_AGE_DAYS, resumable into the step whether or not the merchant is signed in."""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from apps.core.links import step_link_max_age, step_link_url
from apps.integrations.providers import get_provider
from apps.merchants.models import Merchant
from apps.merchants.selectors.dashboard import BANK_FAILED, KYC_REJECTED
from apps.merchants.selectors.kyb import (
    KYB_APPROVED,
    KYB_FIX_FIELD,
    KYB_REJECTED,
    KYB_UNDER_REVIEW,
)
from apps.merchants.selectors.steps import merchant_step, reason_sentence, step_page_url


@dataclass(frozen=True)
class Outcome:
    subject: str
    message: str  # may hold {reason}, {business}, {tracking}
    action: str  # the link's words
    step_id: int | None  # the step the link leads into (None: where the merchant stands)
    page: str = ""  # a URL name when the fix is not the step's own page
    anchor: str = ""  # the field to fix on that page


KYB_APPROVED_OUTCOME = "kyb_approved"
KYB_REJECTED_OUTCOME = "kyb_rejected"
KYB_REVIEW_OUTCOME = "kyb_review_required"
KYC_REJECTED_OUTCOME = "kyc_rejected"
BANK_FAILED_OUTCOME = "bank_verification_failed"
HARDWARE_SHIPPED_OUTCOME = "hardware_shipped"
LIVE_OUTCOME = "live"
QUOTE_READY_OUTCOME = "quote_ready"
FRESH_LINK_OUTCOME = "fresh_link"

PAYOUTS_HELD_LINE = "Payouts stay held until you add a bank account and it is verified."

OUTCOMES = {
    KYB_APPROVED_OUTCOME: Outcome(
        "Your business is verified",
        f"{KYB_APPROVED} Next, choose your plan.",
        "Choose your plan",
        4,
    ),
    KYB_REJECTED_OUTCOME: Outcome(
        "Action needed: we could not verify your business",
        KYB_REJECTED,
        "Check your EIN and business details",
        3,
        anchor=KYB_FIX_FIELD,
    ),
    KYB_REVIEW_OUTCOME: Outcome(
        "Your business is being reviewed",
        f"{KYB_UNDER_REVIEW} There is nothing to do on your side: we email you the outcome.",
        "See where you stand",
        3,
    ),
    KYC_REJECTED_OUTCOME: Outcome(
        "Action needed: an owner or representative could not be verified",
        KYC_REJECTED + " {reason}",
        "Check owners and representatives",
        7,
    ),
    BANK_FAILED_OUTCOME: Outcome(
        "Action needed: your bank account could not be verified",
        BANK_FAILED,
        "Replace your bank account",
        7,
        page="merchants:bank_account",
    ),
    HARDWARE_SHIPPED_OUTCOME: Outcome(
        "Your hardware is on its way",
        "Your hardware has shipped.{tracking} Once it arrives, set it up with the checklist.",
        "Set up your hardware",
        9,
    ),
    LIVE_OUTCOME: Outcome(
        "{business} is live",
        "Congratulations: {business} is live and ready to sell.",
        "See your dashboard",
        None,
        page="merchants:dashboard",
    ),
    QUOTE_READY_OUTCOME: Outcome(
        "Your quote {order_number} is ready",
        "{author} prepared quote {order_number} for {business}: {total} today. Review and "
        "accept it to continue.",
        "Review your quote",
        6,
    ),
    FRESH_LINK_OUTCOME: Outcome(
        "Your link to continue",
        "Here is a fresh link to continue your onboarding where you left off.",
        "Continue where you left off",
        None,
    ),
}


def _path(outcome: Outcome, path: str) -> str:
    if path:
        return path
    if outcome.page:
        try:
            path = reverse(outcome.page)
        except NoReverseMatch:
            path = ""
    if not path and outcome.step_id is not None:
        path = step_page_url(outcome.step_id)
    return f"{path}#{outcome.anchor}" if path and outcome.anchor else path


def merchant_email_address(merchant: Merchant) -> str:
    return (merchant.user.email if merchant.user_id else "") or merchant.lead.email


def merchant_outcome_email(
    *, merchant: Merchant, outcome: str, path: str = "", base_url: str = "", **values
) -> dict:
    """Subject, plain text, HTML and link of one outcome email (nothing sent)."""
    spec = OUTCOMES[outcome]
    values = {"business": merchant.legal_business_name, "reason": "", "tracking": "", **values}
    if values["reason"]:
        values["reason"] = reason_sentence(values["reason"])
    elif "{reason}" in spec.message:
        values["reason"] = reason_sentence("")
    target = _path(spec, path)
    link = step_link_url(
        merchant_id=merchant.pk, step_id=spec.step_id, path=target, base_url=base_url
    )
    step = merchant_step(spec.step_id) if spec.step_id else None
    lines = [spec.message.format(**values).strip()]
    if outcome == LIVE_OUTCOME and not merchant.payouts_enabled:
        lines.append(PAYOUTS_HELD_LINE)
    context = {
        "merchant": merchant,
        "first_name": merchant.lead.first_name if merchant.lead_id else "",
        "subject": spec.subject.format(**values),
        "lines": lines,
        "action": spec.action,
        "link": link,
        "step": step,
        "valid_days": round(step_link_max_age() / 86400),
    }
    return {
        "to": merchant_email_address(merchant),
        "subject": context["subject"],
        "body": render_to_string("merchants/email/outcome.txt", context),
        "html_body": render_to_string("merchants/email/outcome.html", context),
        "link": link,
    }


def merchant_outcome_email_send(
    *, merchant: Merchant, outcome: str, idempotency_key: str, **values
) -> dict | None:
    """Send one outcome email, once per idempotency key (a redelivery sends nothing new)."""
    merchant = Merchant.objects.select_related("user", "lead").get(pk=merchant.pk)
    email = merchant_outcome_email(merchant=merchant, outcome=outcome, **values)
    if not email["to"]:
        return None
    return get_provider("email").send(
        idempotency_key=idempotency_key,
        to=email["to"],
        subject=email["subject"],
        body=email["body"],
        html_body=email["html_body"],
    )
