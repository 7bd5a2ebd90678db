import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from apps.compliance.models import (
    AccessAction,
    AccessAlert,
    CheckType,
    DataAccessAuditLog,
    Decision,
    KybKycAuditLog,
    RetentionRun,
)
from tests.accounts.factories import ComplianceUserFactory
from tests.merchants.factories import MerchantFactory


class KybKycAuditLogFactory(DjangoModelFactory):
    """A sandbox provider's KYB approval (no human reviewer)."""

    class Meta:
        model = KybKycAuditLog

    merchant = factory.SubFactory(MerchantFactory)
    check_type = CheckType.KYB
    check_provider = "sandbox"
    check_reference = factory.Sequence(lambda n: f"kyb_{n:08d}")
    request_payload = factory.LazyAttribute(lambda o: {"merchant_id": str(o.merchant.id)})
    response_payload = factory.LazyAttribute(lambda o: {"decision": o.decision})
    decision = Decision.APPROVED
    submitted_at = factory.LazyFunction(timezone.now)
    completed_at = factory.SelfAttribute("submitted_at")


class DataAccessAuditLogFactory(DjangoModelFactory):
    """A compliance reviewer revealing a merchant's EIN."""

    class Meta:
        model = DataAccessAuditLog

    user = factory.SubFactory(ComplianceUserFactory)
    user_email = factory.SelfAttribute("user.email")
    user_role = "compliance"
    action = AccessAction.DECRYPT
    entity_type = "merchant"
    entity_id = factory.Faker("uuid4", cast_to=None)
    fields_accessed = factory.LazyFunction(lambda: ["ein"])
    access_reason = "KYB review"
    ip_address = factory.Faker("ipv4")
    user_agent = factory.Faker("user_agent")


class AccessAlertFactory(DjangoModelFactory):
    """Ops told of a compliance user's bulk reveals."""

    class Meta:
        model = AccessAlert

    user = factory.SubFactory(ComplianceUserFactory)
    user_email = factory.SelfAttribute("user.email")
    reveal_count = 12
    window_minutes = 15
    merchant_count = 9


class RetentionRunFactory(DjangoModelFactory):
    class Meta:
        model = RetentionRun

    finished_at = factory.LazyFunction(timezone.now)
    triggered_by = "schedule"
    counts = factory.LazyFunction(lambda: {"leads_anonymised": 3})
