"""Step 7's persons as the KYC page lists them: representatives and owners with their KYC
state (and whether their details could not be sent yet), what is left to submit, and the
owners' total share. Two queries, whatever the number of persons."""

from dataclasses import dataclass
from decimal import Decimal

from apps.integrations.models import ExternalSystemSync, SyncStatus
from apps.merchants.choices import CheckStatus, PersonType
from apps.merchants.models import Merchant, MerchantPerson

OWNER_TYPES = (PersonType.OWNER, PersonType.BOTH)
REPRESENTATIVE_TYPES = (PersonType.REPRESENTATIVE, PersonType.BOTH)
# A person whose details may still change: never checked, or rejected and to be corrected.
EDITABLE_KYC_STATUSES = (CheckStatus.PENDING, CheckStatus.REJECTED)
# Checks the merchant waits for (the page polls while one is under way).
WAITING_KYC_STATUSES = (CheckStatus.SUBMITTED, CheckStatus.REVIEW_REQUIRED)


@dataclass
class KycOverview:
    persons: list[MerchantPerson]
    owners_total: Decimal
    has_representative: bool
    to_submit: list[MerchantPerson]
    waiting: list[MerchantPerson]
    rejected: list[MerchantPerson]


def person_list(*, merchant: Merchant) -> list[MerchantPerson]:
    """The merchant's persons, representatives first, with `send_problem` set on a person
    whose details could not be sent to the payments provider yet (two queries)."""
    persons = list(
        MerchantPerson.objects.filter(merchant=merchant).order_by(
            "created_at", "last_name", "first_name", "pk"
        )
    )
    failed = set()
    if persons:
        failed = set(
            ExternalSystemSync.objects.filter(
                entity_type="person_kyc",
                external_system="payments",
                entity_id__in=[p.pk for p in persons],
                sync_status=SyncStatus.FAILED,
            ).values_list("entity_id", flat=True)
        )
    for person in persons:
        person.send_problem = person.pk in failed and person.kyc_status == CheckStatus.SUBMITTED
        person.editable = person.kyc_status in EDITABLE_KYC_STATUSES
    return persons


def kyc_overview(*, merchant: Merchant) -> KycOverview:
    persons = person_list(merchant=merchant)
    return KycOverview(
        persons=persons,
        owners_total=sum(
            (p.ownership_percentage or Decimal(0) for p in persons if p.person_type in OWNER_TYPES),
            Decimal(0),
        ),
        has_representative=any(p.person_type in REPRESENTATIVE_TYPES for p in persons),
        to_submit=[p for p in persons if p.kyc_status in EDITABLE_KYC_STATUSES],
        waiting=[p for p in persons if p.kyc_status in WAITING_KYC_STATUSES],
        rejected=[p for p in persons if p.kyc_status == CheckStatus.REJECTED],
    )


def owners_total(*, merchant: Merchant, excluding=None) -> Decimal:
    """The shares the merchant's owners hold, without the person `excluding` (an edit)."""
    persons = MerchantPerson.objects.filter(merchant=merchant, person_type__in=OWNER_TYPES)
    if excluding is not None:
        persons = persons.exclude(pk=excluding)
    return sum(
        (value or Decimal(0) for value in persons.values_list("ownership_percentage", flat=True)),
        Decimal(0),
    )
