"""Reveal with reason (issue 16): a compliance reviewer sees a full EIN, SSN, date of birth or
bank account and routing number, once, for a stated reason; every reveal is one
DataAccessAuditLog row, and many reveals by one user in a short window raise an
AccessAlert for ops.

Who may reveal: members of the compliance role, and nobody else. Superusers are not let in
by their flag: a superuser account is for running the system, a reveal is a person in the
compliance role answering for why they looked. A superuser who must reveal is added to the
compliance group, which is itself recorded (the user's history) and visible to everyone.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.utils import timezone

from apps.accounts import roles
from apps.compliance.models import AccessAction, AccessAlert, DataAccessAuditLog
from apps.compliance.services import data_access_record
from apps.core.errors import ActionForbidden, DomainError
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson

logger = logging.getLogger(__name__)

REVEAL_FORBIDDEN = "Only the compliance role may reveal personal data."
SUBJECT_NOT_FOUND = "Nothing to reveal here: no such record."
NOTHING_STORED = "Nothing is stored for this record yet."
ALERT_SUBJECT = "Data access alert: {email} revealed personal data {count} times in {minutes} min"


class RevealReason(models.TextChoices):
    KYB_REVIEW = "kyb_review", "KYB review"
    KYC_REVIEW = "kyc_review", "KYC review"
    BANK_VERIFICATION = "bank_verification", "Bank account verification"
    FRAUD_INVESTIGATION = "fraud_investigation", "Fraud investigation"
    MERCHANT_REQUEST = "merchant_request", "The merchant asked us to confirm it"
    LEGAL_REQUEST = "legal_request", "Legal or regulatory request"


@dataclass(frozen=True)
class SubjectKind:
    model: type
    fields: tuple[tuple[str, str], ...]  # (attribute, label)


SUBJECTS = {
    "merchant": SubjectKind(Merchant, (("ein", "EIN"),)),
    "person": SubjectKind(MerchantPerson, (("ssn", "SSN"), ("date_of_birth", "Date of birth"))),
    "bank_account": SubjectKind(
        MerchantBankAccount,
        (("account_number", "Account number"), ("routing_number", "Routing number")),
    ),
}


@dataclass(frozen=True)
class Revealed:
    subject: object
    values: list[tuple[str, str]]  # (label, full value)
    log: DataAccessAuditLog
    alert: AccessAlert | None


def can_reveal(user) -> bool:
    """Members of the compliance role (not superusers by their flag: see the module)."""
    if not user.is_authenticated or not user.is_active:
        return False
    cached = getattr(user, "_compliance_can_reveal", None)
    if cached is None:
        # Asked once per request by each reveal include on a page.
        cached = user._compliance_can_reveal = user.groups.filter(name=roles.COMPLIANCE).exists()
    return cached


def reveal_subject_get(*, kind: str, subject_id):
    subject_kind = SUBJECTS.get(kind)
    if subject_kind is None:
        return None
    return subject_kind.model.objects.filter(pk=subject_id).first()


def pii_reveal(*, actor, kind: str, subject, reason: str, details: str, request=None) -> Revealed:
    """Reveal every protected field of one merchant, person or bank account to `actor`,
    writing the one data access row (who, when, whose, which fields, why, from where) in
    the same transaction. The caller shows the values in this response only."""
    if not can_reveal(actor):
        raise ActionForbidden(REVEAL_FORBIDDEN, code="reveal_forbidden")
    if kind not in SUBJECTS or not isinstance(subject, SUBJECTS[kind].model):
        raise DomainError(SUBJECT_NOT_FOUND, code="not_found")
    values = [
        (label, "" if getattr(subject, name) is None else str(getattr(subject, name)))
        for name, label in SUBJECTS[kind].fields
    ]
    if not any(value for _label, value in values):
        raise DomainError(NOTHING_STORED, code="nothing_stored")
    with transaction.atomic():
        log = data_access_record(
            actor=actor,
            entity=subject,
            fields=[name for name, _label in SUBJECTS[kind].fields],
            action=AccessAction.DECRYPT,
            reason=f"{RevealReason(reason).label}: {details}",
            request=request,
        )
        alert = _alert_if_bulk(actor=actor, now=log.accessed_at)
    return Revealed(subject=subject, values=values, log=log, alert=alert)


def _alert_if_bulk(*, actor, now) -> AccessAlert | None:
    """One AccessAlert per user and window once their reveals in the window reach the
    threshold; emailed to every active ops user after commit."""
    minutes = settings.REVEAL_ALERT_WINDOW_MINUTES
    since = now - timedelta(minutes=minutes)
    recent = DataAccessAuditLog.objects.filter(
        user=actor, action=AccessAction.DECRYPT, accessed_at__gt=since
    ).aggregate(count=models.Count("id"), merchants=models.Count("merchant_id", distinct=True))
    if recent["count"] < settings.REVEAL_ALERT_COUNT:
        return None
    if AccessAlert.objects.filter(user=actor, raised_at__gt=since).exists():
        return None
    alert = AccessAlert.objects.create(
        user=actor,
        user_email=actor.email,
        reveal_count=recent["count"],
        window_minutes=minutes,
        merchant_count=recent["merchants"],
        raised_at=now,
    )
    logger.warning("Data access alert: %s", alert)
    transaction.on_commit(lambda: _alert_email(alert))
    return alert


def _alert_email(alert: AccessAlert) -> None:
    from django.contrib.auth import get_user_model

    recipients = list(
        get_user_model()
        .objects.filter(groups__name=roles.OPS, is_active=True)
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    send_mail(
        ALERT_SUBJECT.format(
            email=alert.user_email, count=alert.reveal_count, minutes=alert.window_minutes
        ),
        f"{alert.user_email} revealed personal data {alert.reveal_count} times "
        f"({alert.merchant_count} merchants) within {alert.window_minutes} minutes, "
        f"at {timezone.localtime(alert.raised_at):%Y-%m-%d %H:%M %Z}. "
        "The data access log in the compliance pages says what and why.",
        None,
        recipients,
        fail_silently=True,
    )
