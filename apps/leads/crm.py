"""Lead ↔ CRM sync (spec/system-architecture.md "Sync Mappings": name, email and phone to
standard fields; cohort and GTV estimate to custom fields; selling plan to the opportunity
stage).

Outbound, every lead event pushes the lead's mapped fields. Before pushing an existing CRM
lead, its current fields are compared with the snapshot both sides agreed on at the last
sync: a field changed on both sides to different values is a conflict (nothing is pushed, a
person decides); a contact field changed only in the CRM is pulled into the lead; every
other field is pushed. Inbound, the CRM tells us by webhook when a lead's owner changes.
"""

from django.db import transaction

from apps.accounts.models import User
from apps.core.fsm import save_tracked
from apps.integrations import registry
from apps.integrations.delivery import SyncConflict, registers_push, sync_push, sync_retry_now
from apps.integrations.inbox import handles_webhook
from apps.integrations.models import ExternalSystemSync, SyncStatus
from apps.leads.models import Lead

SYSTEM = "crm"


def _crm():
    from apps.integrations.providers import get_provider

    return get_provider(SYSTEM)


OPPORTUNITY_STAGE = {
    "self_serve": "Self-Serve Funnel",
    "ae_assisted": "AE Qualification",
    "ae_managed": "Enterprise Discovery",
}
# CRM field → lead attribute, for the contact fields the CRM may also edit (pulled back).
CONTACT_FIELDS = {
    "FirstName": "first_name",
    "LastName": "last_name",
    "Phone": "phone",
    "Company": "business_name",
}

LEAD_EVENTS = (
    "lead.created",
    "lead.updated",
    "lead.profiled",
    "lead.cohort_changed",
    "lead.contacted",
    "lead.qualified",
    "lead.converted",
    "lead.conversion_undone",
    "lead.disqualified",
    "lead.lost",
)


def crm_lead_fields(lead) -> dict:
    """The lead as the CRM stores it."""
    gtv = lead.annual_revenue_estimate
    return {
        "FirstName": lead.first_name,
        "LastName": lead.last_name,
        "Email": lead.email,
        "Phone": lead.phone,
        "Company": lead.business_name,
        "Cohort__c": lead.cohort or "",
        "GTV_Estimate__c": f"{gtv:.2f}" if gtv is not None else "",
        "Opportunity_Stage": OPPORTUNITY_STAGE.get(lead.selling_plan, "Prospecting"),
        "Lead_Status": lead.status,
    }


def _merge_remote(sync: ExternalSystemSync, lead, local: dict) -> tuple[dict, dict]:
    """Compare with the CRM's current lead; raise SyncConflict, or return the fields to push
    and the remote-only contact edits to pull into the lead (applied to `lead` in memory;
    the caller writes them after its remote calls)."""
    remote = _crm().get_lead(crm_lead_id=sync.external_entity_id)["fields"]
    base = sync.synced_snapshot or {}
    remote_changed = {f for f, v in remote.items() if f in base and base[f] != v}
    local_changed = {f for f, v in local.items() if base.get(f) != v}
    clashing = sorted(f for f in remote_changed & local_changed if remote.get(f) != local.get(f))
    if clashing:
        raise SyncConflict(
            clashing,
            "Changed both here and in the CRM since the last sync: " + ", ".join(clashing),
        )
    pulled = {
        CONTACT_FIELDS[f]: remote[f] for f in remote_changed - local_changed if f in CONTACT_FIELDS
    }
    for name, value in pulled.items():
        setattr(lead, name, value)
    return (crm_lead_fields(lead) if pulled else local), pulled


def _lead_save_from_crm(lead_id, *, reason: str, **fields) -> None:
    """Apply values that come from the CRM to the lead, read fresh under its lock (only these
    fields are written, so a change made meanwhile is kept). No lead.updated event: pushing
    them back to the CRM they came from would be an echo."""
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    for name, value in fields.items():
        setattr(lead, name, value)
    save_tracked(
        lead, actor=None, reason=f"crm_sync: {reason}", update_fields=[*fields, "updated_at"]
    )


@registers_push("lead", SYSTEM)
def crm_push_lead(sync: ExternalSystemSync, event) -> str:
    """Runs under the sync row's lock (delivery.sync_push). The lead row is locked only after
    the remote calls, to write back what the CRM gave: sync row first, then the lead, the
    one order every path takes."""
    lead = Lead.objects.get(pk=sync.entity_id)
    fields, pulled = crm_lead_fields(lead), {}
    if sync.external_entity_id:
        fields, pulled = _merge_remote(sync, lead, fields)
    result = _crm().upsert_lead(
        idempotency_key=str(event.pk), lead={"lead_id": str(lead.pk), "fields": fields}
    )
    crm_lead_id = result["crm_lead_id"]
    sync.synced_snapshot = fields
    if pulled:
        _lead_save_from_crm(lead.pk, reason="pulled from CRM", **pulled)
    if lead.crm_lead_id != crm_lead_id:
        _lead_save_from_crm(lead.pk, reason="CRM id", crm_lead_id=crm_lead_id)
    return crm_lead_id


def _on_lead_event(event) -> None:
    sync_push(entity_type="lead", entity_id=event.aggregate_id, system=SYSTEM, event=event)


for _event_type in LEAD_EVENTS:
    registry.handles(_event_type, latest_only=True)(_on_lead_event)


def crm_conflict_resolve(*, sync: ExternalSystemSync, keep: str, actor) -> ExternalSystemSync:
    """A person settles a conflict: "ours" pushes the lead's values over the CRM's; "theirs"
    takes the CRM's values for the clashing fields first. Then the push runs again."""
    from apps.core.errors import DomainError

    if keep not in ("ours", "theirs"):
        raise DomainError('Choose which side to keep: "ours" or "theirs".', code="bad_choice")
    if sync.sync_status != SyncStatus.CONFLICT:
        raise DomainError("This sync has no conflict to resolve.", code="no_conflict")
    remote = _crm().get_lead(crm_lead_id=sync.external_entity_id)["fields"]
    with transaction.atomic():
        # Sync row first, then the lead: the order of every push (no deadlock with one).
        ExternalSystemSync.objects.select_for_update().filter(pk=sync.pk).first()
        if keep == "theirs":
            pulled = {
                CONTACT_FIELDS[f]: remote[f] for f in sync.conflict_fields if f in CONTACT_FIELDS
            }
            _lead_save_from_crm(
                sync.entity_id, reason="conflict resolved: kept the CRM's values", **pulled
            )
        # The CRM's current values become the agreed base: only our side differs now.
        sync.synced_snapshot = {**sync.synced_snapshot, **remote}
        sync_retry_now(sync=sync, actor=actor, reason=f"conflict resolved: kept {keep}")
    return sync


@handles_webhook(SYSTEM, "lead.owner_changed")
def crm_owner_changed(webhook) -> None:
    """The CRM reassigned a lead: data {"crm_lead_id", "owner_email"}."""
    from apps.leads.services import lead_assign_ae

    data = webhook.payload.get("data") or {}
    lead = Lead.objects.get(crm_lead_id=data["crm_lead_id"])
    owner = User.objects.get(email__iexact=data["owner_email"])
    lead_assign_ae(lead=lead, ae=owner, actor=None, reason="owner changed in the CRM")
