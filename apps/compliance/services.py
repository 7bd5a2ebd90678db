from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from apps.compliance.models import AccessAction, DataAccessAuditLog, KybKycAuditLog
from apps.core.client_ip import client_ip

# Spec "Data Retention Policy": audit logs are kept 7 years.
AUDIT_RETENTION = timedelta(days=7 * 365)


def kyb_kyc_audit_record(
    *,
    check_type: str,
    decision: str,
    merchant=None,
    person=None,
    actor=None,
    notes: str = "",
    provider: str = "",
    reference: str = "",
    request_payload: dict | None = None,
    response_payload: dict | None = None,
    risk_score: Decimal | None = None,
    submitted_at=None,
) -> KybKycAuditLog:
    """Append the audit row for one KYB/KYC decision (rule 10). `actor` None: the
    provider decided; otherwise a person reviewed and their notes are kept."""
    now = timezone.now()
    return KybKycAuditLog.objects.create(
        merchant=merchant,
        person=person,
        check_type=check_type,
        check_provider=provider,
        check_reference=reference,
        request_payload=request_payload,
        response_payload=response_payload,
        decision=decision,
        risk_score=risk_score,
        decision_reason=notes,
        reviewed_by=actor,
        reviewed_at=now if actor else None,
        reviewer_notes=notes if actor else "",
        manual_override=actor is not None,
        submitted_at=submitted_at or now,
        completed_at=now,
        retention_until=(date.today() + AUDIT_RETENTION),
    )


def data_access_record(
    *,
    actor,
    entity=None,
    fields: list[str],
    action: str = AccessAction.DECRYPT,
    reason: str = "",
    request=None,
    merchant_id=None,
    entity_type: str = "",
    entity_id=None,
) -> DataAccessAuditLog:
    """Append the row for a staff member seeing unmasked PII or exporting audit data
    (rule 9). `merchant_id`: whose data it is, when `entity` is not the merchant itself
    (defaults to the entity's `merchant_id`, or its own id for a merchant). Without an
    entity (an export of many rows), `entity_type` and `entity_id` name what was read."""
    meta = request.META if request is not None else {}
    if merchant_id is None and entity is not None:
        merchant_id = getattr(entity, "merchant_id", None)
        if merchant_id is None and entity._meta.model_name == "merchant":
            merchant_id = entity.pk
    return DataAccessAuditLog.objects.create(
        user=actor,
        user_email=actor.email,
        user_role=",".join(g.name for g in actor.groups.all()),
        action=action,
        entity_type=entity_type or entity._meta.model_name,
        entity_id=entity_id or entity.pk,
        merchant_id=merchant_id,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=meta.get("HTTP_USER_AGENT", ""),
        api_endpoint=request.path if request is not None else "",
        fields_accessed=fields,
        access_reason=reason,
    )
