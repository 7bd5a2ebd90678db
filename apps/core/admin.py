"""What every admin page of the project shares.

- `TrackedAdmin`: models with `history = HistoricalRecords()`. History with who and why, no
  revert (the historical rows copy the protected FSM fields, so a revert cannot be saved),
  state fields always read-only, every admin save recorded with the reason "admin edit".
- `ReadOnlyAdminMixin`: rows nobody edits from the admin (audit logs, the outbox, inbound
  webhooks, payments): view only, no add, no change, no delete.
- `ScheduleAdmin` replaces django-q2's: schedules are code (apps/core/jobs.py), read-only
  for everyone; ops pause, resume and run them now.
- `transition_action`: an FSM transition offered as an admin action. It calls the use case's
  service for each selected object, with the signed-in user as the actor, so the service's
  checks (state, guards, permission) decide; refusals are shown per object. Actions that need
  a reason first show one shared confirmation page (templates/admin/transition_reason.html).
"""

from collections.abc import Callable, Iterable

# Importing it registers django-q2's admins, so that its Schedule admin can be replaced below.
import django_q.admin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import model_ngettext
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django_fsm import FSMFieldMixin
from django_q.models import Schedule
from simple_history.admin import SimpleHistoryAdmin

from apps.core.errors import DomainError
from apps.core.jobs import (
    SCHEDULE_OPERATE_PERMISSION,
    schedule_pause,
    schedule_resume,
    schedule_run_now,
)
from apps.core.models import RecoveryClaim, RecoveryRun

ADMIN_EDIT_REASON = "admin edit"
ADMIN_DELETE_REASON = "admin delete"
REASON_MISSING = "Give a reason: it is kept in the history and read by the next person."
REVERT_DISABLED = "Reverting from history is disabled: state changes go through the services."
TIMESTAMP_FIELDS = ("created_at", "updated_at")
# The confirmation page posts this field back; without it the action shows the page.
APPLY_FIELD = "apply_transition"
# How many selected objects the confirmation page lists by name.
CONFIRMATION_LIST_LIMIT = 50


def fsm_field_names(model) -> list[str]:
    """The model's state fields (FSMField): never editable in a form."""
    return [field.name for field in model._meta.concrete_fields if isinstance(field, FSMFieldMixin)]


def _timestamp_field_names(model) -> list[str]:
    names = {field.name for field in model._meta.concrete_fields}
    return [name for name in TIMESTAMP_FIELDS if name in names]


class StateReadonlyMixin:
    """State fields and timestamps are read-only on every form: a ModelForm that includes a
    protected FSM field cannot even be validated, and state changes belong to services."""

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        for name in [*fsm_field_names(self.model), *_timestamp_field_names(self.model)]:
            if name not in readonly:
                readonly.append(name)
        return readonly


class TrackedAdmin(StateReadonlyMixin, SimpleHistoryAdmin):
    """Admin for a history-tracked model.

    Rows with a state machine cannot be deleted here: their life is a sequence of
    transitions, each in the history, and removing the row would bypass the services.
    """

    object_history_list_template = "admin/history_list_no_revert.html"
    # Fields left out of the "Changes" column of the history page (keyed hashes of PII).
    history_hidden_fields: Iterable[str] = ()

    # --- history: readable, never revertible ------------------------------------------------
    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # Viewing an old version is a form that can revert it: refused for everyone.
        raise PermissionDenied(REVERT_DISABLED)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        previous = None
        for current in historical_records:
            if previous is not None:
                delta = previous.diff_against(
                    current,
                    excluded_fields=list(self.history_hidden_fields),
                    foreign_keys_are_objs=foreign_keys_are_objs,
                )
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current

    # --- every admin write says who and why --------------------------------------------------
    def save_model(self, request, obj, form, change):
        obj._change_reason = ADMIN_EDIT_REASON
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj._history_user = request.user
            obj._change_reason = ADMIN_DELETE_REASON
            obj.delete()
        for obj in instances:
            obj._history_user = request.user
            obj._change_reason = ADMIN_EDIT_REASON
            obj.save()
        formset.save_m2m()

    def delete_model(self, request, obj):
        obj._history_user = request.user
        obj._change_reason = ADMIN_DELETE_REASON
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # One by one, so each deletion is in the history with who and why.
        for obj in queryset:
            self.delete_model(request, obj)

    def has_delete_permission(self, request, obj=None):
        if fsm_field_names(self.model):
            return False
        return super().has_delete_permission(request, obj)


class ReadOnlyAdminMixin:
    """View only, for everyone including superusers: no add, no change, no delete, every
    field read-only, no delete action."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        opts = self.model._meta
        names = [field.name for field in [*opts.fields, *opts.many_to_many]]
        extra = [name for name in super().get_readonly_fields(request, obj) if name not in names]
        return [*names, *extra]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyInline(admin.TabularInline):
    """A related list shown on its parent's page, edited on its own page (or not at all)."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- FSM transitions as admin actions ------------------------------------------------------


class TransitionReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 70}))

    def __init__(self, *args, label: str = "Reason", help_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = label
        self.fields["reason"].help_text = help_text


def transition_action(
    service_call: Callable,
    description: str,
    *,
    name: str,
    needs_reason: bool = False,
    reason_label: str = "Reason",
    reason_help: str = "",
    permissions: Iterable[str] = ("change",),
):
    """Build an admin action performing a transition through its service.

    `service_call(obj, actor=user)` — or `service_call(obj, actor=user, reason=text)` when
    `needs_reason` — calls the service. Permission checks stay in the service (it raises
    ActionForbidden); `permissions` only hides the action from users who could not use it
    (Django calls `has_<permission>_permission(request)` on the ModelAdmin).
    """

    # "Disqualify…" in the action menu, "Disqualify" as a page title and in messages.
    title = description.rstrip("…. ")

    def action(modeladmin, request, queryset):
        reason = None
        if needs_reason:
            form = TransitionReasonForm(
                request.POST if APPLY_FIELD in request.POST else None,
                label=reason_label,
                help_text=reason_help,
            )
            if not form.is_bound or not form.is_valid():
                if form.is_bound:
                    modeladmin.message_user(request, REASON_MISSING, level=messages.ERROR)
                return _reason_page(modeladmin, request, queryset, form, name, title)
            reason = form.cleaned_data["reason"]
        _perform(modeladmin, request, queryset, service_call, title, reason)
        return None

    action.__name__ = name
    return admin.action(description=description, permissions=list(permissions))(action)


def _perform(modeladmin, request, queryset, service_call, title, reason):
    done = 0
    for obj in queryset:
        try:
            if reason is None:
                service_call(obj, actor=request.user)
            else:
                service_call(obj, actor=request.user, reason=reason)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", level=messages.ERROR)
        else:
            done += 1
    if done:
        noun = model_ngettext(modeladmin.opts, done)
        modeladmin.message_user(
            request, f"{title}: done for {done} {noun}.", level=messages.SUCCESS
        )


def _reason_page(modeladmin, request, queryset, form, action_name, title):
    opts = modeladmin.model._meta
    selected = [str(pk) for pk in queryset.values_list("pk", flat=True)]
    shown = list(queryset[:CONFIRMATION_LIST_LIMIT])
    request.current_app = modeladmin.admin_site.name
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": opts,
        "app_label": opts.app_label,
        "objects": shown,
        "more": max(len(selected) - len(shown), 0),
        "form": form,
        "selected": selected,
        "action_name": action_name,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "select_across": request.POST.get("select_across", "0"),
        "apply_field": APPLY_FIELD,
        "media": modeladmin.media,
    }
    return TemplateResponse(request, "admin/transition_reason.html", context)


# --- django-q2 schedules: code, operated by ops (apps/core/jobs.py) -------------------------


class ScheduleAdmin(ReadOnlyAdminMixin, django_q.admin.ScheduleAdmin):
    """A schedule names a function the worker imports and calls: nobody edits, adds or
    deletes one here, superusers included (seed_rules writes them from PERIODIC_JOBS). Ops
    pause, resume and run one now."""

    actions = [
        transition_action(
            lambda schedule, *, actor: schedule_pause(schedule=schedule, actor=actor),
            "Pause",
            name="pause",
            permissions=["operate"],
        ),
        transition_action(
            lambda schedule, *, actor: schedule_resume(schedule=schedule, actor=actor),
            "Resume",
            name="resume",
            permissions=["operate"],
        ),
        transition_action(
            lambda schedule, *, actor: schedule_run_now(schedule=schedule, actor=actor),
            "Run now",
            name="run_now",
            permissions=["operate"],
        ),
    ]

    def has_operate_permission(self, request):
        return request.user.has_perm(SCHEDULE_OPERATE_PERMISSION)


admin.site.unregister(Schedule)
admin.site.register(Schedule, ScheduleAdmin)


# --- Recovery (apps/core/recovery.py): read-only records of the sweeps ------------------------


@admin.register(RecoveryRun)
class RecoveryRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("ran_at", "kind", "requested_by", "stuck", "recovered")
    list_filter = ("kind",)
    list_select_related = ("requested_by",)
    search_fields = ("kind",)


@admin.register(RecoveryClaim)
class RecoveryClaimAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("kind", "object_id", "attempts", "claimed_at", "next_attempt_at")
    list_filter = ("kind",)
    search_fields = ("kind",)
