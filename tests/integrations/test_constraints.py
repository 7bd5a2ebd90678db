"""The inbox stores each webhook once; each entity has one sync row per external system."""

import pytest
from django.db import IntegrityError, transaction

from apps.integrations.models import ExternalSystem, WebhookEvent, WebhookStatus
from tests.integrations.factories import ExternalSystemSyncFactory, WebhookEventFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "first_status",
    [
        WebhookStatus.RECEIVED,
        WebhookStatus.PROCESSING,
        WebhookStatus.PROCESSED,
        WebhookStatus.FAILED,
    ],
)
def test_second_webhook_with_the_same_provider_and_id_is_refused(first_status):
    first = WebhookEventFactory(status=first_status)

    with pytest.raises(IntegrityError, match="webhook_once_per_provider_id"), transaction.atomic():
        WebhookEventFactory(provider=first.provider, external_id=first.external_id)


def test_rejected_webhook_does_not_block_the_genuine_one_with_the_same_id():
    forged = WebhookEventFactory(status=WebhookStatus.REJECTED, signature_valid=False)

    WebhookEventFactory(provider=forged.provider, external_id=forged.external_id)

    assert WebhookEvent.objects.filter(external_id=forged.external_id).count() == 2


def test_several_rejected_webhooks_with_the_same_id_are_accepted():
    forged = WebhookEventFactory(status=WebhookStatus.REJECTED, signature_valid=False)

    WebhookEventFactory(
        provider=forged.provider,
        external_id=forged.external_id,
        status=WebhookStatus.REJECTED,
        signature_valid=False,
    )

    assert WebhookEvent.objects.filter(external_id=forged.external_id).count() == 2


def test_same_event_id_from_two_providers_is_accepted():
    first = WebhookEventFactory(provider="payments")

    WebhookEventFactory(provider="hardware", external_id=first.external_id)

    assert WebhookEvent.objects.filter(external_id=first.external_id).count() == 2


def test_second_sync_row_for_one_entity_and_system_is_refused():
    first = ExternalSystemSyncFactory()

    with pytest.raises(IntegrityError, match="sync_one_per_entity_system"), transaction.atomic():
        ExternalSystemSyncFactory(
            entity_type=first.entity_type,
            entity_id=first.entity_id,
            external_system=first.external_system,
        )


def test_sync_rows_for_one_entity_in_two_systems_are_accepted():
    first = ExternalSystemSyncFactory(external_system=ExternalSystem.CRM)

    second = ExternalSystemSyncFactory(
        entity_type=first.entity_type,
        entity_id=first.entity_id,
        external_system=ExternalSystem.X_SERIES,
    )

    assert second.pk != first.pk
