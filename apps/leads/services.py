from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.errors import ActionForbidden, DomainError, TransitionRefused
from apps.core.fsm import save_tracked
from apps.core.keyed_hash import email_hash
from apps.integrations.outbox import transition_perform
from apps.leads.models import OPEN_LEAD_STATUSES, Cohort, Lead, LeadSubmission
from apps.leads.scoring import DEFAULT_PLANS, Profile, profile_compute
from apps.leads.selectors import cohort_rule_active_list

CLOSE_REASON_REQUIRED = "Say why the lead is closed."


def lead_mark_contacted(*, lead: Lead, actor, reason: str = "first contact") -> Lead:
    return transition_perform(
        lead,
        "mark_contacted",
        actor=actor,
        reason=f"lead_mark_contacted: {reason}",
        event_type="lead.contacted",
    )


def lead_qualify(*, lead: Lead, actor=None, reason: str = "KYB approved") -> Lead:
    return transition_perform(
        lead, "qualify", actor=actor, reason=f"lead_qualify: {reason}", event_type="lead.qualified"
    )


def lead_convert(*, lead: Lead, actor=None, reason: str = "first order paid") -> Lead:
    return transition_perform(
        lead, "convert", actor=actor, reason=f"lead_convert: {reason}", event_type="lead.converted"
    )


def lead_conversion_undo(*, lead: Lead, actor=None, reason: str) -> Lead:
    """The order that converted the lead was refunded: back to qualified (CRM told)."""
    return transition_perform(
        lead,
        "undo_conversion",
        actor=actor,
        reason=f"lead_conversion_undo: {reason}",
        event_type="lead.conversion_undone",
    )


def _close(lead: Lead, transition: str, event_type: str, *, actor, reason: str) -> Lead:
    if not reason.strip():
        raise DomainError(CLOSE_REASON_REQUIRED, code="reason_required")
    return transition_perform(
        lead,
        transition,
        actor=actor,
        reason=f"lead_{transition}: {reason}",
        event_type=event_type,
        params={"reason": reason},
    )


def lead_disqualify(*, lead: Lead, actor, reason: str) -> Lead:
    return _close(lead, "disqualify", "lead.disqualified", actor=actor, reason=reason)


def lead_mark_lost(*, lead: Lead, actor, reason: str) -> Lead:
    return _close(lead, "mark_lost", "lead.lost", actor=actor, reason=reason)


# --- Create and edit ------------------------------------------------------------------------

# Fields anyone with the right to edit a lead may change here; status and cohort have their
# own use cases (transitions, profiling, override).
EDITABLE_FIELDS = frozenset(
    {
        "external_lead_id",
        "crm_lead_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "business_name",
        "business_category",
        "business_type",
        "annual_revenue_estimate",
        "number_of_locations",
        "country_code",
        "region",
        "language_code",
        "timezone",
        "source",
        "campaign_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "referrer",
    }
)


def _check_fields(fields: dict) -> None:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"These lead fields cannot be set here: {', '.join(sorted(unknown))}.")


def _anonymised_lead(email: str) -> Lead | None:
    """The lead this address had before retention anonymised it (its keyed hash was kept,
    apps/compliance/retention.py), if any: the new lead is recognised as returning."""
    if not email:
        return None
    return (
        Lead.objects.filter(email_hash=email_hash(email), anonymised_at__isnull=False)
        .order_by("-anonymised_at")
        .first()
    )


def lead_create(*, actor=None, returning_from: Lead | None = None, **fields) -> Lead:
    """A new lead (lead.created goes to the CRM through the outbox). `returning_from`: the
    anonymised lead of the same address; the history says the lead is returning."""
    from apps.integrations.outbox import event_emit

    _check_fields(fields)
    lead = Lead(**fields)
    lead.email = lead.email.strip().lower()
    lead.returning_from = returning_from
    # The fields' own checks only: uniqueness and the table's constraints are the database's
    # (lead_capture, the one caller, looked the lead up under a lock and retries a capture
    # that loses a race on the unique index), which saves ten round trips per new lead.
    lead.full_clean(exclude=["status"], validate_unique=False, validate_constraints=False)
    reason = "lead_create: returning (anonymised lead)" if returning_from else "lead_create"
    with transaction.atomic():
        save_tracked(lead, actor=actor, reason=reason)
        event_emit(event_type="lead.created", aggregate=lead)
    return lead


def lead_update(*, lead: Lead, actor=None, reason: str = "edited", **fields) -> Lead:
    """Change a lead's details; emits lead.updated with the changed field names, or nothing
    when no value actually changed."""
    from apps.integrations.outbox import event_emit

    _check_fields(fields)
    changed = [name for name, value in fields.items() if getattr(lead, name) != value]
    if not changed:
        return lead
    for name in changed:
        setattr(lead, name, fields[name])
    lead.full_clean(exclude=["status"])
    with transaction.atomic():
        save_tracked(lead, actor=actor, reason=f"lead_update: {reason}")
        event_emit(event_type="lead.updated", aggregate=lead, payload={"changed": changed})
    return lead


def lead_assign_ae(*, lead: Lead, ae, actor=None, reason: str) -> Lead:
    """Make `ae` the lead's account executive (an AE claim, or the CRM owner changing)."""
    from apps.accounts.roles import AE
    from apps.integrations.outbox import event_emit

    if ae is not None and not ae.groups.filter(name=AE).exists():
        raise DomainError(f"{ae.email} is not an account executive.", code="not_an_ae")
    if lead.assigned_ae_id == (ae.pk if ae else None):
        return lead
    lead.assigned_ae = ae
    with transaction.atomic():
        save_tracked(lead, actor=actor, reason=f"lead_assign_ae: {reason}")
        event_emit(
            event_type="lead.owner_changed",
            aggregate=lead,
            payload={"ae_email": ae.email if ae else None, "why": reason},
        )
    return lead


# --- Capture, profiling and cohort (DESIGN.md rule 5) ------------------------------------------

LEAD_CONFLICT = (
    "The external lead id and the email belong to two different leads: fix one of them, "
    "nothing was changed."
)
EMAIL_HAS_OTHER_EXTERNAL_ID = (
    "This email belongs to a lead that has another external lead id: nothing was changed."
)
LEAD_CLOSED_NOT_PROFILED = "This lead is {status}: a closed lead is not profiled again."
OVERRIDE_FORBIDDEN = "You do not have permission to override a lead's cohort."
OVERRIDE_REASON_REQUIRED = (
    "Say why the cohort is overridden: the reason is kept in the lead's history."
)
UNKNOWN_COHORT = "Choose a cohort: self_serve, assisted or managed."
OVERRIDE_CLOSED_LEAD = "This lead is {status}: its cohort cannot be overridden now."

# Where a lead came from. Kept as first sent: a repeat capture fills these in when the lead
# has none, never replaces them (the first touch is what marketing attributes the lead to).
ACCOUNT_LINK_EVENT = "lead.account_link_requested"
ACCOUNT_LINK_INTERVAL_SECONDS = 10 * 60
ATTRIBUTION_FIELDS = frozenset(
    {"source", "campaign_id", "utm_source", "utm_medium", "utm_campaign", "referrer"}
)
REPROFILE_COUNTS = ("checked", "updated", "cohort_changed", "overridden_kept", "skipped")
# Statuses whose cohort may no longer change by hand.
CLOSED_FOR_OVERRIDE = frozenset({"disqualified", "lost"})


class LeadConflict(DomainError):
    """The request names two different leads (HTTP 409)."""

    status_code = 409


@dataclass(frozen=True)
class ProfileOutcome:
    lead: Lead
    profile: Profile
    saved: bool
    cohort_changed: bool
    override_kept: bool


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def lead_capture(
    *, data: dict, actor=None, public: bool = False, base_url: str = ""
) -> tuple[Lead, bool]:
    """Record a lead from the Get started page or the marketing API and profile it.

    One lead per email (case-insensitive) and per external lead id: a repeat updates the
    lead it names (lead.updated) instead of creating one; an external id and an email that
    name two different leads are refused with LeadConflict, changing nothing. Blank values
    never erase what the lead has, and attribution (source, campaign, UTM, referrer) stays
    as first captured. Open leads are then profiled (lead.profiled). Returns (lead, created).

    `public` (the Get started page, where anyone can type anyone's address): a repeat is
    kept beside the lead as a LeadSubmission and only fills the lead's empty fields, and the
    address itself is sent the link to continue (create the account, or sign in) rather than
    whoever typed it; `base_url` roots that link.
    """
    data = {name: value for name, value in data.items() if not _blank(value)}
    _check_fields(data)
    data["email"] = (data.get("email") or "").strip().lower()
    # Two captures of one new lead at once: the loser's insert fails on the unique index
    # (or its validation already sees the winner's row); it then finds the winner's lead
    # and updates it.
    for attempt in range(2):
        try:
            with transaction.atomic():
                lead, created = _capture(data, actor=actor, public=public)
                if public:
                    lead_account_link_request(lead, base_url=base_url, returning=not created)
                return lead, created
        except (IntegrityError, ValidationError):
            if attempt or not _captured_meanwhile(data):
                raise
    raise AssertionError("unreachable")


def _captured_meanwhile(data: dict) -> bool:
    found = Q(email__lower=data["email"].lower())
    if data.get("external_lead_id"):
        found |= Q(external_lead_id=data["external_lead_id"])
    return Lead.objects.filter(found).exists()


def _capture(data: dict, *, actor, public: bool) -> tuple[Lead, bool]:
    external_id = data.get("external_lead_id")
    leads = Lead.objects.select_for_update()
    by_external = leads.filter(external_lead_id=external_id).first() if external_id else None
    by_email = leads.filter(email__lower=data["email"].lower()).first() if data["email"] else None
    if by_external and by_email and by_external.pk != by_email.pk:
        raise LeadConflict(LEAD_CONFLICT, code="lead_conflict")
    if (
        by_email
        and not by_external
        and external_id
        and by_email.external_lead_id
        and by_email.external_lead_id != external_id
    ):
        raise LeadConflict(EMAIL_HAS_OTHER_EXTERNAL_ID, code="lead_conflict")
    lead = by_external or by_email
    if lead is None:
        lead = lead_create(actor=actor, returning_from=_anonymised_lead(data["email"]), **data)
        created = True
    elif public:
        lead = _resubmission_keep(lead, data, actor=actor)
        created = False
    else:
        changes = {
            name: value
            for name, value in data.items()
            if name not in ATTRIBUTION_FIELDS or _blank(getattr(lead, name))
        }
        lead = lead_update(lead=lead, actor=actor, reason="captured again", **changes)
        created = False
    if lead.is_open:
        lead = lead_profile(lead=lead, actor=actor, reason="captured" if created else "recaptured")
    return lead, created


def _resubmission_keep(lead: Lead, data: dict, *, actor) -> Lead:
    """A public repeat: kept as a LeadSubmission; it fills only what the lead lacks."""
    empty = {
        name: value
        for name, value in data.items()
        if name != "email" and _blank(getattr(lead, name))
    }
    LeadSubmission.objects.create(
        lead=lead,
        details={
            name: value
            for name, value in data.items()
            if name not in ATTRIBUTION_FIELDS and name != "email"
        },
        filled_fields=sorted(empty),
        **{name: data.get(name, "") for name in ATTRIBUTION_FIELDS},
    )
    return lead_update(
        lead=lead, actor=actor, reason="captured again: empty fields filled", **empty
    )


def lead_account_link_request(lead: Lead, *, base_url: str, returning: bool) -> None:
    """Email the lead's own address the link to continue (create the account, or sign in),
    at most once per interval, so public forms cannot be used to flood someone's inbox."""
    from apps.integrations.models import IntegrationEvent
    from apps.integrations.outbox import event_emit

    recent = IntegrationEvent.objects.filter(
        event_type=ACCOUNT_LINK_EVENT,
        aggregate_id=lead.pk,
        occurred_at__gte=timezone.now() - timedelta(seconds=ACCOUNT_LINK_INTERVAL_SECONDS),
    )
    if not recent.exists():
        event_emit(
            event_type=ACCOUNT_LINK_EVENT,
            aggregate=lead,
            payload={"base_url": base_url, "returning": returning},
        )


def _profile_apply(
    lead_id, *, actor, reason: str, rules, only_if_changed: bool = False
) -> ProfileOutcome:
    """Profile the lead under a row lock; the caller holds the transaction."""
    from apps.integrations.outbox import event_emit

    lead = Lead.objects.select_for_update().get(pk=lead_id)
    if not lead.is_open:
        raise TransitionRefused(
            LEAD_CLOSED_NOT_PROFILED.format(status=lead.get_status_display()),
            code="lead_closed",
        )
    profile = profile_compute(lead, rules)
    decision = profile.decision
    values = {
        "gtv_score": profile.gtv_score,
        "complexity_score": profile.complexity_score,
        "risk_score": profile.risk_score,
        "score_inputs": profile.score_inputs,
        "matched_rule_id": decision.rule.pk if decision.rule else None,
        "cohort_reason": decision.reason,
    }
    overridden = lead.is_cohort_overridden
    if not overridden:
        values.update(
            cohort=decision.cohort,
            selling_plan=decision.selling_plan,
            setup_plan=decision.setup_plan,
        )
    changed = [name for name, value in values.items() if getattr(lead, name) != value]
    if only_if_changed and not changed:
        return ProfileOutcome(lead, profile, False, False, overridden)

    before = lead.cohort
    for name, value in values.items():
        setattr(lead, name, value)
    lead.profiled_at = timezone.now()
    if overridden:
        verdict = (
            f"scores updated, overridden cohort {lead.cohort} kept (rules say {decision.cohort})"
        )
    else:
        verdict = f"cohort {lead.cohort}"
    save_tracked(lead, actor=actor, reason=f"lead_profile: {reason}: {verdict}; {decision.reason}")
    rule = decision.rule
    event_emit(
        event_type="lead.profiled",
        aggregate=lead,
        payload={
            "cohort": lead.cohort,
            "selling_plan": lead.selling_plan,
            "setup_plan": lead.setup_plan,
            "gtv_score": str(lead.gtv_score),
            "complexity_score": str(lead.complexity_score),
            "risk_score": str(lead.risk_score),
            "rules_cohort": decision.cohort,
            "matched_rule_id": str(rule.pk) if rule else None,
            "matched_rule": rule.rule_name if rule else None,
            "cohort_reason": decision.reason,
            "overridden": overridden,
            "reason": reason,
        },
    )
    cohort_changed = before is not None and before != lead.cohort
    if cohort_changed:
        _emit_cohort_changed(
            lead, before=before, by="profiling", reason=decision.reason, actor=actor
        )
    return ProfileOutcome(lead, profile, True, cohort_changed, overridden)


def _emit_cohort_changed(lead: Lead, *, before, by: str, reason: str, actor) -> None:
    from apps.integrations.outbox import event_emit

    event_emit(
        event_type="lead.cohort_changed",
        aggregate=lead,
        payload={
            "from": before,
            "to": lead.cohort,
            "selling_plan": lead.selling_plan,
            "setup_plan": lead.setup_plan,
            "by": by,
            "reason": reason,
            "actor_id": str(actor.pk) if actor is not None else None,
        },
    )


def lead_profile(*, lead: Lead, actor=None, reason: str = "profiled") -> Lead:
    """Score the lead and give it the cohort of the first matching active rule (or
    self-serve). Always records lead.profiled; lead.cohort_changed too when the lead had a
    cohort and it changes (a first profiling is not a change). An overridden lead keeps its
    cohort and plans; its scores and the rules' verdict are still updated. A closed lead
    (converted, disqualified, lost) is refused. `lead` is refreshed; returns it."""
    with transaction.atomic():
        _profile_apply(lead.pk, actor=actor, reason=reason, rules=cohort_rule_active_list())
    lead.refresh_from_db()
    return lead


def lead_profile_preview(*, data: dict) -> Profile:
    """The profile these lead details WOULD get now, without saving anything."""
    _check_fields(data)
    return profile_compute(Lead(**data), cohort_rule_active_list())


def lead_cohort_override(*, lead: Lead, cohort: str, reason: str, actor) -> Lead:
    """An AE sets the cohort by hand, with a reason kept in the history. The plans follow
    the default mapping of the cohort; re-profiling never undoes it. Emits
    lead.cohort_changed when the cohort changes (an override to the same cohort only pins
    it). Refused for disqualified and lost leads."""
    if actor is None or not actor.has_perm("leads.override_cohort"):
        raise ActionForbidden(OVERRIDE_FORBIDDEN, code="permission_denied")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(OVERRIDE_REASON_REQUIRED, code="reason_required")
    if cohort not in Cohort.values:
        raise DomainError(UNKNOWN_COHORT, code="unknown_cohort")
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.status in CLOSED_FOR_OVERRIDE:
            raise TransitionRefused(
                OVERRIDE_CLOSED_LEAD.format(status=locked.get_status_display()),
                code="lead_closed",
            )
        before = locked.cohort
        locked.cohort = cohort
        locked.selling_plan, locked.setup_plan = DEFAULT_PLANS[cohort]
        locked.cohort_overridden_at = timezone.now()
        locked.cohort_overridden_by = actor
        locked.cohort_override_reason = reason
        save_tracked(
            locked,
            actor=actor,
            reason=f"lead_cohort_override: {before or 'none'} → {cohort}: {reason}",
        )
        if before != cohort:
            _emit_cohort_changed(locked, before=before, by="override", reason=reason, actor=actor)
    lead.refresh_from_db()
    return lead


# Leads per re-profiling task: 1.3-1.9 ms each at 100k leads, so a task takes a few seconds,
# well within the 60 s task timeout (47k open leads in one task took 60-88 s: issue 12).
REPROFILE_CHUNK = 1000
REPROFILE_CHUNK_TASK = "apps.leads.tasks.leads_reprofile_chunk"


def _reprofile_candidates(since=None):
    leads = Lead.objects.filter(status__in=OPEN_LEAD_STATUSES, deleted_at__isnull=True)
    if since is not None:
        leads = leads.filter(Q(updated_at__gte=since) | Q(profiled_at__isnull=True))
    return leads


def leads_reprofile_enqueue(*, since=None) -> dict[str, int]:
    """The daily re-profiling, split: one query lists the open leads (or those changed since
    `since`, and any never profiled) and one task per REPROFILE_CHUNK of them is queued after
    commit, each running leads_reprofile on its ids. Returns {"leads": n, "tasks": k}."""
    from django_q.tasks import async_task

    ids = [
        str(pk)
        for pk in _reprofile_candidates(since)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    ]
    chunks = [ids[i : i + REPROFILE_CHUNK] for i in range(0, len(ids), REPROFILE_CHUNK)]

    def enqueue():
        for chunk in chunks:
            async_task(REPROFILE_CHUNK_TASK, chunk, task_name=f"reprofile:{chunk[0]}")

    transaction.on_commit(enqueue, robust=True)
    return {"leads": len(ids), "tasks": len(chunks)}


def leads_reprofile(*, since=None, lead_ids=None) -> dict[str, int]:
    """Re-score every open lead (or those changed since `since`, and any never profiled; or
    only the open ones among `lead_ids`), each in its own transaction so one bad row cannot
    stop the batch. A lead whose profile would not change is left alone (no history row, no
    event). Overridden leads keep their cohort. Returns counts: checked, updated,
    cohort_changed, overridden_kept, skipped."""
    rules = cohort_rule_active_list()
    if lead_ids is not None:
        leads = Lead.objects.filter(pk__in=lead_ids)  # a closed one is refused, then skipped
    else:
        leads = _reprofile_candidates(since)
    counts = dict.fromkeys(REPROFILE_COUNTS, 0)
    for lead_id in list(leads.order_by("created_at", "pk").values_list("pk", flat=True)):
        try:
            with transaction.atomic():
                outcome = _profile_apply(
                    lead_id, actor=None, reason="re-profiled", rules=rules, only_if_changed=True
                )
        except (DomainError, Lead.DoesNotExist):
            counts["skipped"] += 1  # closed or deleted since the list was read
            continue
        counts["checked"] += 1
        counts["updated"] += outcome.saved
        counts["cohort_changed"] += outcome.cohort_changed
        counts["overridden_kept"] += outcome.override_kept
    return counts
