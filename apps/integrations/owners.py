"""Which merchant a synced entity belongs to, so that the ops pages link each failed sync to
the merchant hub where its work is done.

Integrations knows no domain app (README, "Dependencies point one way"): the app that syncs
an entity type registers, for it, a function from entity ids to their merchants, one query
per call, the way it registers its push (delivery.registers_push):

    @registers_owner("person_kyc")
    def person_merchants(entity_ids) -> dict[UUID, SyncOwner]: ...

An entity with no merchant (a lead that has not signed up yet) is simply absent.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class SyncOwner:
    merchant_id: UUID
    name: str


OwnersOf = Callable[[list[UUID]], dict[UUID, SyncOwner]]
_owners: dict[str, OwnersOf] = {}


def registers_owner(*entity_types: str):
    def register(owners_of: OwnersOf) -> OwnersOf:
        for entity_type in entity_types:
            _owners[entity_type] = owners_of
        return owners_of

    return register


def owners_of(entity_type: str, entity_ids: Iterable[UUID]) -> dict[UUID, SyncOwner]:
    """{entity_id: SyncOwner} for the ids of one entity type that belong to a merchant."""
    find = _owners.get(entity_type)
    return find(list(entity_ids)) if find is not None else {}
