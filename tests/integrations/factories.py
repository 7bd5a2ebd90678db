import factory
from factory.django import DjangoModelFactory

from apps.integrations.models import (
    ExternalSystem,
    ExternalSystemSync,
    IntegrationEvent,
    SandboxFault,
    SandboxLedgerEntry,
    WebhookEvent,
)


class IntegrationEventFactory(DjangoModelFactory):
    """An unpublished outbox event about a merchant."""

    class Meta:
        model = IntegrationEvent

    event_type = "merchant.kyb_submitted"
    aggregate_type = "merchant"
    aggregate_id = factory.Faker("uuid4", cast_to=None)
    event_payload = factory.LazyAttribute(lambda o: {"merchant_id": str(o.aggregate_id)})


class ExternalSystemSyncFactory(DjangoModelFactory):
    """A pending sync of a merchant to the CRM."""

    class Meta:
        model = ExternalSystemSync

    entity_type = "merchant"
    entity_id = factory.Faker("uuid4", cast_to=None)
    external_system = ExternalSystem.CRM


class WebhookEventFactory(DjangoModelFactory):
    """A received, correctly signed payments-provider webhook."""

    class Meta:
        model = WebhookEvent

    provider = "payments"
    external_id = factory.Sequence(lambda n: f"evt_{n:08d}")
    event_type = "kyb.decision"
    payload = factory.LazyAttribute(lambda o: {"id": o.external_id, "decision": "approved"})
    signature_valid = True


class SandboxLedgerEntryFactory(DjangoModelFactory):
    """One remote effect recorded by the sandbox CRM."""

    class Meta:
        model = SandboxLedgerEntry

    system = ExternalSystem.CRM
    operation = "upsert_lead"
    idempotency_key = factory.Faker("uuid4")
    response = factory.LazyAttribute(lambda o: {"crm_lead_id": f"crm_lead_{o.idempotency_key}"})


class SandboxFaultFactory(DjangoModelFactory):
    """The next call to the sandbox CRM fails with a retryable error."""

    class Meta:
        model = SandboxFault

    system = ExternalSystem.CRM
    remaining_failures = 1
