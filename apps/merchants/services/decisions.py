"""KYB and KYC decisions, one path for both checks. A decision comes from the payments
provider (its webhook; actor None) or from a compliance reviewer (actor, with notes); either
way it is the subject's transition (history who/why, outbox event) plus its audit row
(rule 10). A review_required decision queues the merchant for the compliance review, which
the reviewer's decision closes. kyb.py and kyc.py say with a `CheckKind` what a decision
means for their subject; the check_* entry points are atomic."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Required, TypedDict

from django.db import transaction
from django.utils import timezone

from apps.compliance.services import kyb_kyc_audit_record
from apps.core.errors import DomainError, TransitionRefused
from apps.integrations.outbox import transition_perform
from apps.merchants.choices import CheckStatus
from apps.merchants.models import Merchant
from apps.routing.models import (
    OPEN_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    QueueAssignment,
    RoutingQueue,
)
from apps.routing.services.assignments import (
    assignment_record_contact,
    assignment_resolve,
    assignment_withdraw,
)
from apps.routing.services.claims import assignment_assign
from apps.routing.services.routing import assignment_enqueue

logger = logging.getLogger(__name__)

DECISIONS = (CheckStatus.APPROVED, CheckStatus.REJECTED, CheckStatus.REVIEW_REQUIRED)
UNKNOWN_DECISION = "A decision is approved, rejected or review_required."
NOTES_REQUIRED = "A reviewer's decision needs notes: they are kept in the audit log."
NOT_UNDER_REVIEW = "Only a case under review can be decided by a reviewer."
REVIEW_DECISIONS = (CheckStatus.APPROVED, CheckStatus.REJECTED)
REVIEW_DECISION_UNKNOWN = "A reviewer approves or rejects."
# One open item per merchant in this queue covers its KYB and its persons' KYC.
REVIEW_QUEUE = "compliance_review"

# The transition each decision performs, on the merchant (KYB, and its derived KYC) or the
# person (KYC).
TRANSITIONS = {
    "kyb": {
        CheckStatus.APPROVED: "kyb_approve",
        CheckStatus.REJECTED: "kyb_reject",
        CheckStatus.REVIEW_REQUIRED: "kyb_require_review",
    },
    "kyc": {
        CheckStatus.APPROVED: "kyc_approve",
        CheckStatus.REJECTED: "kyc_reject",
        CheckStatus.REVIEW_REQUIRED: "kyc_require_review",
    },
}


class Decision(TypedDict, total=False):
    """What merchant_kyb_decide and person_kyc_decide take besides their subject."""

    decision: Required[str]
    actor: Any  # the reviewer; None when the provider decided
    notes: str
    provider: str
    reference: str
    request_payload: dict | None
    response_payload: dict | None
    risk_score: Decimal | None


class ProviderAnswer(TypedDict, total=False):
    """The provider's decision as its kyb.decision / kyc.decision webhook brings it."""

    decision: Required[str]
    check_id: Required[str]
    reason: str
    risk_score: Decimal | None
    response_payload: dict | None
    provider: str


def _nobody_refused(subject, *, actor) -> None:
    """Any reviewer may decide."""


@dataclass(frozen=True)
class CheckKind:
    """What differs between the KYB of a merchant and the KYC of a person: what was sent to
    the provider, and what a decision means for the subject (the merchant, or the person).
    The hooks run inside the decision's transaction; the check_* functions say when."""

    check_type: str  # "kyb": the subject is the merchant; "kyc": a person
    request: Callable[[Any], dict]  # (subject): what was sent to the provider, masked
    decided: Callable[..., None]  # (subject, decision, *, actor)
    provider_decided: Callable[..., None]  # (subject, decision, *, reason, actor)
    review_decided: Callable[..., None]  # (subject, decision, *, reason, actor)
    review_refused: Callable[..., None] = _nobody_refused  # (subject, *, actor): may raise

    @property
    def noun(self) -> str:
        """The subject in event names and history reasons."""
        return "merchant" if self.check_type == "kyb" else "person"

    def merchant_of(self, subject) -> Merchant:
        return subject if self.check_type == "kyb" else subject.merchant


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


def check_decide(
    kind: CheckKind,
    subject,
    *,
    decision: str,
    actor=None,
    notes: str = "",
    provider: str = "",
    reference: str = "",
    request_payload: dict | None = None,
    response_payload: dict | None = None,
    risk_score: Decimal | None = None,
):
    """One KYB or KYC decision: the transition (history who/why, event), its audit row
    (rule 10) and what follows from any decision (kind.decided: the lead qualified, the
    merchant's KYC derived), all or nothing."""
    with transaction.atomic():
        # The subject's kyb_status and kyb_submitted_at, or kyc_status and kyc_submitted_at.
        status = getattr(subject, f"{kind.check_type}_status")
        submitted_at = getattr(subject, f"{kind.check_type}_submitted_at")
        merchant = kind.merchant_of(subject)
        person = None if kind.check_type == "kyb" else subject
        _check_decision(decision, actor=actor, notes=notes, status=status)
        who = "reviewer" if actor else "provider"
        transition_perform(
            subject,
            TRANSITIONS[kind.check_type][decision],
            actor=actor,
            # merchant_kyb_decide / person_kyc_decide: the service the history names.
            reason=f"{kind.noun}_{kind.check_type}_decide: {decision} by {who}"
            + (f": {notes}" if notes else ""),
            event_type=f"{kind.noun}.{kind.check_type}_{decision}",
            params={"reason": notes} if decision == CheckStatus.REJECTED else None,
        )
        kyb_kyc_audit_record(
            check_type=kind.check_type,
            merchant=merchant,
            person=person,
            decision=decision,
            actor=actor,
            notes=notes,
            submitted_at=submitted_at or timezone.now(),
            provider=provider,
            reference=reference,
            request_payload=request_payload,
            response_payload=response_payload,
            risk_score=risk_score,
        )
        kind.decided(subject, decision, actor=actor)
    return subject


def check_provider_decide(
    kind: CheckKind,
    subject,
    *,
    decision: str,
    check_id: str,
    reason: str = "",
    risk_score: Decimal | None = None,
    response_payload: dict | None = None,
    provider: str = "sandbox",
):
    """The payments provider's decision (its webhook): recorded with what was sent to it,
    then what it means for the journey (kind.provider_decided: steps moved on or failed,
    the case queued for review)."""
    with transaction.atomic():
        check_decide(
            kind,
            subject,
            decision=decision,
            actor=None,
            notes=reason,
            provider=provider,
            reference=check_id,
            request_payload=kind.request(subject),
            response_payload=response_payload,
            risk_score=risk_score,
        )
        kind.provider_decided(subject, decision, reason=reason, actor=None)
    return subject


def check_review_decide(kind: CheckKind, subject, *, decision: str, notes: str, actor):
    """A compliance reviewer approves or rejects a case under review, with notes (required,
    kept in the audit log; a rejection's notes are the reason the merchant sees), unless
    kind.review_refused refuses this reviewer; then what it means for the journey and the
    compliance queue item (kind.review_decided)."""
    if decision not in REVIEW_DECISIONS:
        raise DomainError(REVIEW_DECISION_UNKNOWN, code="unknown_decision")
    notes = (notes or "").strip()
    with transaction.atomic():
        kind.review_refused(subject, actor=actor)
        check_decide(
            kind,
            subject,
            decision=decision,
            actor=actor,
            notes=notes,
            provider="compliance_review",
            request_payload=kind.request(subject),
        )
        kind.review_decided(subject, decision, reason=notes, actor=actor)
    return subject


def review_enqueue(merchant: Merchant, *, reason: str, unqueued: str) -> None:
    """Queue the merchant for the compliance review with `reason`, unless an item of it is
    open already. Without an active queue, logs "`unqueued` not queued" instead: the case
    still shows on the compliance review page, which lists every merchant under review;
    only the queue item (and its SLA clock) is missing."""
    queue = RoutingQueue.objects.filter(code=REVIEW_QUEUE, is_active=True).first()
    if queue is None:
        logger.error("%s not queued: no active queue %s.", unqueued, REVIEW_QUEUE)
        return
    if QueueAssignment.objects.filter(
        queue=queue, merchant=merchant, status__in=OPEN_ASSIGNMENT_STATUSES
    ).exists():
        return
    assignment_enqueue(queue=queue, merchant=merchant, reason=reason, actor=None)


def review_resolve(merchant: Merchant, *, actor, note: str, withdraw_unworkable: bool) -> None:
    """Close the merchant's compliance queue item: the deciding reviewer takes it (if nobody
    had), records the contact and resolves it, so the SLA figures count it. An item they
    cannot take (at their limit of open items) or that another reviewer held is withdrawn
    instead, with the reason, when `withdraw_unworkable` (KYB); otherwise (KYC) the refusal
    stands and the decision with it."""
    items = QueueAssignment.objects.select_for_update(of=("self",)).select_related("queue")
    items = items.filter(
        queue__code=REVIEW_QUEUE, merchant=merchant, status__in=OPEN_ASSIGNMENT_STATUSES
    )
    for item in items:
        if item.status == AssignmentStatus.QUEUED:
            try:
                assignment_assign(assignment=item, agent=actor, actor=actor)
            except DomainError:
                if not withdraw_unworkable:
                    raise
                assignment_withdraw(assignment=item, actor=actor, reason=f"case closed: {note}")
                continue
        elif (
            withdraw_unworkable and item.assigned_to_id != actor.pk and not actor.is_superuser
        ):
            assignment_withdraw(assignment=item, actor=actor, reason=f"case closed: {note}")
            continue
        if item.status == AssignmentStatus.ASSIGNED:
            assignment_record_contact(assignment=item, actor=actor)
        assignment_resolve(assignment=item, actor=actor, note=note)
