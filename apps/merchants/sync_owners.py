"""The merchant of each entity type synced for the journey (apps/integrations/owners.py), so
the ops pages link a failed sync straight to the merchant hub. Registered on import (apps.py).
A lead's CRM sync belongs to the merchant it became, once there is one."""

from apps.integrations.owners import SyncOwner, registers_owner
from apps.merchants.handlers import KYB_ENTITY
from apps.merchants.handlers_setup import (
    BANK_ACCOUNT_ENTITY,
    MERCHANT_PAYMENTS_ENTITY,
    PERSON_KYC_ENTITY,
)
from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson

LEAD_ENTITY = "lead"
MERCHANT_ENTITY = "merchant"


def _owners(rows) -> dict:
    """rows of (entity id, merchant id, legal name, the lead's business name)."""
    return {
        entity_id: SyncOwner(merchant_id=merchant_id, name=legal_name or business_name)
        for entity_id, merchant_id, legal_name, business_name in rows
    }


@registers_owner(MERCHANT_ENTITY, KYB_ENTITY, MERCHANT_PAYMENTS_ENTITY)
def merchants_by_id(entity_ids):
    return _owners(
        Merchant.objects.filter(pk__in=entity_ids).values_list(
            "pk", "pk", "legal_business_name", "lead__business_name"
        )
    )


@registers_owner(LEAD_ENTITY)
def merchants_by_lead(entity_ids):
    return _owners(
        Merchant.objects.filter(lead_id__in=entity_ids).values_list(
            "lead_id", "pk", "legal_business_name", "lead__business_name"
        )
    )


def _merchants_of(model, entity_ids):
    return _owners(
        model.objects.filter(pk__in=entity_ids).values_list(
            "pk", "merchant_id", "merchant__legal_business_name", "merchant__lead__business_name"
        )
    )


@registers_owner(PERSON_KYC_ENTITY)
def merchants_by_person(entity_ids):
    return _merchants_of(MerchantPerson, entity_ids)


@registers_owner(BANK_ACCOUNT_ENTITY)
def merchants_by_bank_account(entity_ids):
    return _merchants_of(MerchantBankAccount, entity_ids)
