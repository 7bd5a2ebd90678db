"""The Django admin: every model opens, history shows who and why and cannot be reverted,
transitions run through the services, audit rows stay read-only, roles see what they may,
and no raw PII reaches a page."""

import uuid
from datetime import date, time
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success
from rest_framework_api_key.models import APIKey
from simple_history.models import HistoricalChanges

from apps.accounts.models import User
from apps.compliance.models import AccessAlert, DataAccessAuditLog, KybKycAuditLog, RetentionRun
from apps.core.admin import (
    ADMIN_EDIT_REASON,
    APPLY_FIELD,
    REASON_MISSING,
    ReadOnlyAdminMixin,
    TrackedAdmin,
    fsm_field_names,
)
from apps.core.fsm import save_tracked
from apps.core.models import RecoveryClaim, RecoveryRun
from apps.integrations.models import (
    ExternalSystemSync,
    IntegrationEvent,
    SandboxFault,
    SandboxLedgerEntry,
    SyncStatus,
    WebhookEvent,
)
from apps.integrations.services import sync_start, webhook_start_processing
from apps.leads.models import Cohort, Lead, LeadStatus, LeadSubmission
from apps.leads.services import lead_mark_contacted
from apps.merchants.choices import CheckStatus
from apps.merchants.models import (
    DataImport,
    ImportedCustomer,
    ImportedProduct,
    Merchant,
    MerchantBankAccount,
    MerchantLocation,
    MerchantPerson,
)
from apps.merchants.services.bank import bank_account_verification_start
from apps.merchants.services.kyb import merchant_kyb_submit
from apps.merchants.services.kyc import person_kyc_submit
from apps.orders.models import (
    HardwareShipment,
    Order,
    OrderItem,
    Payment,
    Product,
    SagaStep,
    TaxRate,
)
from apps.orders.models.order import OrderStatus
from apps.orders.services.payments import payment_authorize
from apps.orders.services.shipments import shipment_process
from apps.orders.services.transitions import order_cancel, order_item_fulfill
from apps.progress.models import (
    AlertStatus,
    JourneyStep,
    MerchantStepProgress,
    OpsFigures,
    StallAlert,
    StallPolicy,
)
from apps.progress.services import alert_claim, step_start
from apps.routing.models import (
    AssignmentNote,
    BusinessCalendar,
    BusinessHoliday,
    BusinessHours,
    CohortRule,
    QueueAssignment,
    RoutingQueue,
)
from apps.routing.services.claims import assignment_assign
from tests.accounts.factories import UserFactory
from tests.compliance.factories import (
    AccessAlertFactory,
    DataAccessAuditLogFactory,
    KybKycAuditLogFactory,
    RetentionRunFactory,
)
from tests.integrations.factories import (
    ExternalSystemSyncFactory,
    IntegrationEventFactory,
    SandboxFaultFactory,
    SandboxLedgerEntryFactory,
    WebhookEventFactory,
)
from tests.leads.factories import LeadFactory
from tests.merchants.factories import (
    DataImportFactory,
    ImportedCustomerFactory,
    ImportedProductFactory,
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantLocationFactory,
    MerchantPersonFactory,
)
from tests.orders.factories import (
    HardwareShipmentFactory,
    OrderFactory,
    OrderItemFactory,
    PaymentFactory,
    ProductFactory,
    SagaStepFactory,
    TaxRateFactory,
)
from tests.progress.factories import (
    JourneyStepFactory,
    MerchantStepProgressFactory,
    StallAlertFactory,
    StallPolicyFactory,
)
from tests.routing.factories import (
    AssignmentNoteFactory,
    CohortRuleFactory,
    QueueAssignmentFactory,
    RoutingQueueFactory,
)

pytestmark = pytest.mark.django_db


# --- helpers ---------------------------------------------------------------------------------


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def run_action(client, model, action: str, objects, **extra):
    """Post an admin action from the changelist, as the action menu does."""
    data = {
        "action": action,
        ACTION_CHECKBOX_NAME: [str(obj.pk) for obj in objects],
        "index": "0",
    }
    return client.post(admin_url(model, "changelist"), data)


def confirm_action(client, model, action: str, objects, reason: str):
    """Post the reason page of an action back, as its Confirm button does."""
    data = {
        "action": action,
        ACTION_CHECKBOX_NAME: [str(obj.pk) for obj in objects],
        "select_across": "0",
        APPLY_FIELD: "yes",
        "reason": reason,
    }
    return client.post(admin_url(model, "changelist"), data)


def messages_of(response) -> list[tuple[int, str]]:
    return [(message.level, message.message) for message in get_messages(response.wsgi_request)]


def _form_values(form) -> dict:
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[form.add_prefix(name)] = "on" if value is True else value
    return data


def change_form_data(response) -> dict:
    """The change form's current values, inlines included, ready to post back."""
    data = _form_values(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_values(formset.management_form))
        for form in formset.forms:
            data.update(_form_values(form))
    return data


def _free_step_id() -> int:
    used = set(JourneyStep.objects.values_list("id", flat=True))
    return min(set(range(1, 11)) - used)


def _free_cohort() -> str:
    used = set(StallPolicy.objects.values_list("cohort", flat=True))
    return next(cohort for cohort in Cohort.values if cohort not in used)


def _task(success: bool):
    model = Success if success else Failure
    now = timezone.now()
    return model.objects.create(
        id=uuid.uuid4().hex,
        name=f"task-{uuid.uuid4().hex[:8]}",
        func="math.floor",
        started=now,
        stopped=now,
        success=success,
    )


def _access(model, **fields):
    """A django-axes row, as a sign-in from the test network leaves it."""
    return model.objects.create(
        username=f"user-{uuid.uuid4().hex[:8]}@acme.test",
        ip_address="203.0.113.7",
        user_agent="Mozilla/5.0",
        http_accept="text/html",
        path_info="/accounts/login/",
        attempt_time=timezone.now(),
        **fields,
    )


# One new object of each registered model per call.
BUILDERS = {
    User: UserFactory,
    Group: lambda: Group.objects.create(name=f"group-{uuid.uuid4().hex[:8]}"),
    Lead: LeadFactory,
    LeadSubmission: lambda: LeadSubmission.objects.create(
        lead=LeadFactory(), details={"business_name": "Again"}, filled_fields=["phone"]
    ),
    CohortRule: CohortRuleFactory,
    RoutingQueue: RoutingQueueFactory,
    QueueAssignment: QueueAssignmentFactory,
    Merchant: MerchantFactory,
    MerchantLocation: MerchantLocationFactory,
    MerchantPerson: MerchantPersonFactory,
    MerchantBankAccount: MerchantBankAccountFactory,
    Product: ProductFactory,
    TaxRate: TaxRateFactory,
    Order: OrderFactory,
    OrderItem: OrderItemFactory,
    Payment: PaymentFactory,
    HardwareShipment: HardwareShipmentFactory,
    JourneyStep: lambda: JourneyStepFactory(id=_free_step_id()),
    MerchantStepProgress: MerchantStepProgressFactory,
    StallAlert: StallAlertFactory,
    StallPolicy: lambda: StallPolicyFactory(cohort=_free_cohort()),
    IntegrationEvent: IntegrationEventFactory,
    ExternalSystemSync: ExternalSystemSyncFactory,
    WebhookEvent: WebhookEventFactory,
    SandboxLedgerEntry: SandboxLedgerEntryFactory,
    SandboxFault: SandboxFaultFactory,
    KybKycAuditLog: KybKycAuditLogFactory,
    DataAccessAuditLog: DataAccessAuditLogFactory,
    AccessAlert: AccessAlertFactory,
    RetentionRun: RetentionRunFactory,
    Schedule: lambda: Schedule.objects.create(name=f"s-{uuid.uuid4().hex[:8]}", func="math.floor"),
    Success: lambda: _task(success=True),
    Failure: lambda: _task(success=False),
    APIKey: lambda: APIKey.objects.create_key(name=f"key-{uuid.uuid4().hex[:8]}")[0],
    AssignmentNote: AssignmentNoteFactory,
    SagaStep: SagaStepFactory,
    DataImport: DataImportFactory,
    ImportedProduct: ImportedProductFactory,
    ImportedCustomer: ImportedCustomerFactory,
    OrmQ: lambda: OrmQ.objects.create(key="onboarding", payload="not a signed package"),
    AccessAttempt: lambda: _access(
        AccessAttempt, get_data="", post_data="username=…", failures_since_start=5
    ),
    AccessFailureLog: lambda: _access(AccessFailureLog, locked_out=True),
    AccessLog: lambda: _access(AccessLog),
    RecoveryRun: lambda: RecoveryRun.objects.create(kind="webhooks", stuck=2, recovered=2),
    RecoveryClaim: lambda: RecoveryClaim.objects.create(kind="webhooks", object_id=uuid.uuid4()),
    BusinessCalendar: lambda: _calendar(),
    BusinessHours: lambda: BusinessHours.objects.create(
        calendar=_calendar(), weekday=0, opens_at=time(9), closes_at=time(17)
    ),
    BusinessHoliday: lambda: BusinessHoliday.objects.create(
        calendar=_calendar(), date=date(2026, 12, 25), name="Christmas Day"
    ),
    OpsFigures: lambda: OpsFigures.objects.create(
        name=f"f-{uuid.uuid4().hex[:8]}", computed_at=timezone.now()
    ),
}


def _calendar():
    return BusinessCalendar.objects.create(
        name=f"Calendar {uuid.uuid4().hex[:8]}", time_zone="America/New_York"
    )


REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
REGISTERED_MODELS = [model for model, _ in REGISTRY]
PROJECT_MODELS = [model for model in REGISTERED_MODELS if model.__module__.startswith("apps.")]
TRACKED_MODELS = [
    model for model in REGISTERED_MODELS if hasattr(model._meta, "simple_history_manager_attribute")
]


def _ids(models):
    return [model._meta.label for model in models]


def _superuser_request(rf, user):
    request = rf.get("/")
    request.user = user
    return request


# --- (a) every model opens ------------------------------------------------------------------


def test_every_project_model_is_registered_except_history_tables():
    project_models = [
        model
        for config in apps.get_app_configs()
        if config.name.startswith("apps.")
        for model in config.get_models()
        if not issubclass(model, HistoricalChanges) and not model.__name__.startswith("Historical")
    ]
    assert project_models
    assert [m._meta.label for m in project_models if m not in admin.site._registry] == []
    assert [m._meta.label for m in REGISTERED_MODELS if issubclass(m, HistoricalChanges)] == []


@pytest.mark.parametrize("model", REGISTERED_MODELS, ids=_ids(REGISTERED_MODELS))
def test_changelist_opens_for_a_superuser(admin_client, model):
    BUILDERS[model]()

    response = admin_client.get(admin_url(model, "changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED_MODELS, ids=_ids(REGISTERED_MODELS))
def test_changelist_search_runs(admin_client, model):
    BUILDERS[model]()

    response = admin_client.get(admin_url(model, "changelist"), {"q": "example"})

    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED_MODELS, ids=_ids(REGISTERED_MODELS))
def test_change_page_opens_for_a_superuser(admin_client, model):
    obj = BUILDERS[model]()

    response = admin_client.get(admin_url(model, "change", obj.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED_MODELS, ids=_ids(REGISTERED_MODELS))
def test_add_page_opens_where_adding_is_allowed_and_is_refused_elsewhere(
    admin_client, admin_user, rf, model
):
    allowed = admin.site._registry[model].has_add_permission(_superuser_request(rf, admin_user))

    response = admin_client.get(admin_url(model, "add"))

    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("model", PROJECT_MODELS, ids=_ids(PROJECT_MODELS))
def test_changelist_query_count_does_not_grow_with_rows(admin_client, model):
    url = admin_url(model, "changelist")
    BUILDERS[model]()
    with CaptureQueriesContext(connection) as one_row:
        admin_client.get(url)
    BUILDERS[model]()
    BUILDERS[model]()

    with CaptureQueriesContext(connection) as three_rows:
        response = admin_client.get(url)

    assert response.context["cl"].result_count == 3 + (model is User)
    assert len(three_rows) == len(one_row), [q["sql"] for q in three_rows.captured_queries]


@pytest.mark.parametrize("model", PROJECT_MODELS, ids=_ids(PROJECT_MODELS))
def test_state_fields_are_read_only_in_every_form(admin_user, rf, model):
    model_admin = admin.site._registry[model]
    request = _superuser_request(rf, admin_user)
    obj = BUILDERS[model]()

    form_fields = model_admin.get_form(request, obj).base_fields

    assert [name for name in fsm_field_names(model) if name in form_fields] == []


# --- (b) history with who and why -----------------------------------------------------------


# A change made through a service, and the change reason that service writes.
CHANGES = {
    Lead: (
        lambda lead, actor: lead_mark_contacted(lead=lead, actor=actor),
        "lead_mark_contacted",
    ),
    QueueAssignment: (
        lambda assignment, actor: assignment_assign(
            assignment=assignment, agent=actor, actor=actor
        ),
        "assignment_assign",
    ),
    Merchant: (
        lambda merchant, actor: merchant_kyb_submit(merchant=merchant, actor=actor),
        "merchant_kyb_submit",
    ),
    MerchantPerson: (
        lambda person, actor: person_kyc_submit(person=person, actor=actor),
        "person_kyc_submit",
    ),
    MerchantBankAccount: (
        lambda account, actor: bank_account_verification_start(bank_account=account, actor=actor),
        "bank_account_verification_start",
    ),
    Order: (
        lambda order, actor: order_cancel(order=order, actor=actor, reason="duplicate order"),
        "order_cancel: duplicate order",
    ),
    OrderItem: (
        lambda item, actor: order_item_fulfill(item=item, actor=actor),
        "order_item_fulfill",
    ),
    Payment: (
        lambda payment, actor: payment_authorize(payment=payment, actor=actor),
        "payment_authorize",
    ),
    HardwareShipment: (
        lambda shipment, actor: shipment_process(shipment=shipment, actor=actor),
        "shipment_process",
    ),
    MerchantStepProgress: (
        lambda progress, actor: step_start(progress=progress, actor=actor),
        "step_start",
    ),
    StallAlert: (
        lambda alert, actor: alert_claim(alert=alert, agent=actor, actor=actor),
        "alert_claim",
    ),
    ExternalSystemSync: (lambda sync, actor: sync_start(sync=sync, actor=actor), "sync_start"),
    WebhookEvent: (
        lambda webhook, actor: webhook_start_processing(webhook=webhook),
        "webhook_process",
    ),
}
# Reference data has no use case of its own: saved the way services save a tracked row.
REFERENCE_DATA_REASON = "reference data updated"


def _change_reference_data(obj, actor):
    save_tracked(obj, actor=actor, reason=REFERENCE_DATA_REASON)


def test_every_model_with_history_uses_the_history_admin():
    assert TRACKED_MODELS
    for model in TRACKED_MODELS:
        assert isinstance(admin.site._registry[model], TrackedAdmin), model._meta.label


@pytest.mark.parametrize("model", TRACKED_MODELS, ids=_ids(TRACKED_MODELS))
def test_history_page_shows_who_changed_it_and_why(admin_client, admin_user, model):
    obj = BUILDERS[model]()
    change, reason = CHANGES.get(model, (_change_reference_data, REFERENCE_DATA_REASON))
    change(obj, admin_user)

    response = admin_client.get(admin_url(model, "history", obj.pk))

    assert response.status_code == 200
    content = response.content.decode()
    assert reason in content
    assert admin_user.email in content


def test_admin_edit_is_recorded_with_its_reason_and_leaves_the_status_alone(
    admin_client, admin_user
):
    lead = LeadFactory(status=LeadStatus.CONTACTED)
    url = admin_url(Lead, "change", lead.pk)
    data = change_form_data(admin_client.get(url))
    data["phone"] = "+1-555-010-9999"

    response = admin_client.post(url, {**data, "_save": "Save"})

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.phone == "+1-555-010-9999"
    assert lead.status == LeadStatus.CONTACTED
    latest = lead.history.latest()
    assert latest.history_change_reason == ADMIN_EDIT_REASON
    assert latest.history_user == admin_user


def test_admin_edit_of_a_merchant_and_its_locations_is_recorded_with_its_reason(
    admin_client, admin_user
):
    merchant = MerchantFactory(kyb_status=CheckStatus.SUBMITTED)
    location = MerchantLocationFactory(merchant=merchant, location_number=1, is_primary=True)
    url = admin_url(Merchant, "change", merchant.pk)
    data = change_form_data(admin_client.get(url))
    data["registered_city"] = "Portland"
    data["locations-0-city"] = "Salem"

    response = admin_client.post(url, {**data, "_save": "Save"})

    assert response.status_code == 302
    merchant.refresh_from_db()
    location.refresh_from_db()
    assert (merchant.registered_city, location.city) == ("Portland", "Salem")
    assert merchant.kyb_status == CheckStatus.SUBMITTED
    for obj in (merchant, location):
        latest = obj.history.latest()
        assert latest.history_change_reason == ADMIN_EDIT_REASON
        assert latest.history_user == admin_user


def test_superuser_adds_a_staff_user_by_email_with_a_role(admin_client):
    ae_role = Group.objects.get(name="ae")

    response = admin_client.post(
        admin_url(User, "add"),
        {
            "email": "New.AE@Lightspeed.example",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
            "is_staff": "on",
            "groups": [ae_role.pk],
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email="new.ae@lightspeed.example")
    assert user.is_staff
    assert user.has_role("ae")
    assert user.check_password("a-long-enough-passphrase")


# --- (c) audit rows are read-only -----------------------------------------------------------

READ_ONLY_MODELS = [KybKycAuditLog, DataAccessAuditLog, IntegrationEvent, RecoveryRun]


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=_ids(READ_ONLY_MODELS))
def test_audit_rows_cannot_be_added_changed_or_deleted_even_by_a_superuser(
    admin_client, admin_user, rf, model
):
    obj = BUILDERS[model]()
    change_url = admin_url(model, "change", obj.pk)

    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(change_url, {}).status_code == 403
    assert admin_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()
    request = _superuser_request(rf, admin_user)
    assert "delete_selected" not in admin.site._registry[model].get_actions(request)


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=_ids(READ_ONLY_MODELS))
def test_audit_row_page_is_view_only(admin_client, model):
    obj = BUILDERS[model]()

    response = admin_client.get(admin_url(model, "change", obj.pk))

    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert isinstance(admin.site._registry[model], ReadOnlyAdminMixin)


# --- (d) actions go through the services ----------------------------------------------------


def test_mark_contacted_action_moves_the_lead_through_its_service(admin_client, admin_user):
    lead = LeadFactory()

    response = run_action(admin_client, Lead, "mark_contacted", [lead])

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONTACTED
    latest = lead.history.latest()
    assert latest.history_change_reason.startswith("lead_mark_contacted")
    assert latest.history_user == admin_user
    assert [level for level, _ in messages_of(response)] == [message_levels.SUCCESS]


def test_refused_action_reports_the_services_error_and_changes_nothing(admin_client):
    converted = LeadFactory(status=LeadStatus.CONVERTED)
    history_rows = converted.history.count()

    response = run_action(admin_client, Lead, "mark_contacted", [converted])

    assert response.status_code == 302
    converted.refresh_from_db()
    assert converted.status == LeadStatus.CONVERTED
    assert converted.history.count() == history_rows
    [(level, text)] = messages_of(response)
    assert level == message_levels.ERROR
    assert text.startswith(f"{converted}: ")
    assert LeadStatus.CONVERTED.label in text


def test_action_on_several_objects_reports_each_refusal_and_counts_the_rest(admin_client):
    new_leads = [LeadFactory(), LeadFactory()]
    converted = LeadFactory(status=LeadStatus.CONVERTED)

    response = run_action(admin_client, Lead, "mark_contacted", [*new_leads, converted])

    levels = sorted(level for level, _ in messages_of(response))
    assert levels == [message_levels.SUCCESS, message_levels.ERROR]
    assert any("done for 2 leads" in text for _, text in messages_of(response))
    assert Lead.objects.filter(status=LeadStatus.CONTACTED).count() == 2


def test_compliance_reviewer_rejects_a_kyb_under_review_with_notes(client, compliance_user):
    merchant = MerchantFactory(kyb_status=CheckStatus.REVIEW_REQUIRED)
    client.force_login(compliance_user)

    response = confirm_action(
        client, Merchant, "kyb_reject", [merchant], reason="Registered address is a PO box."
    )

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.kyb_status == CheckStatus.REJECTED
    audit = KybKycAuditLog.objects.get(merchant=merchant)
    assert audit.reviewed_by == compliance_user
    assert audit.reviewer_notes == "Registered address is a PO box."


def test_kyb_decision_actions_are_offered_to_compliance_but_not_to_an_ae(
    client, ae_user, compliance_user
):
    MerchantFactory()

    def offered_actions(user):
        client.force_login(user)
        response = client.get(admin_url(Merchant, "changelist"))
        assert response.status_code == 200
        action_form = response.context["action_form"]
        if action_form is None:  # no action at all for this user
            return set()
        return {name for name, _ in action_form.fields["action"].choices}

    assert {"kyb_approve", "kyb_reject"} <= offered_actions(compliance_user)
    assert not {"kyb_approve", "kyb_reject"} & offered_actions(ae_user)


def test_ops_user_retries_a_failed_sync_from_the_admin(client, ops_user):
    sync = ExternalSystemSyncFactory(sync_status=SyncStatus.FAILED, retry_count=3)
    client.force_login(ops_user)

    response = run_action(client, ExternalSystemSync, "retry", [sync])

    assert response.status_code == 302
    sync.refresh_from_db()
    assert sync.sync_status == SyncStatus.PENDING
    latest = sync.history.latest()
    assert latest.history_change_reason.startswith("sync_requeue")
    assert latest.history_user == ops_user


def test_ic_claims_a_stall_alert_for_themselves(client, ic_user):
    alert = StallAlertFactory()
    client.force_login(ic_user)

    run_action(client, StallAlert, "claim", [alert])

    alert.refresh_from_db()
    assert alert.alert_status == AlertStatus.ASSIGNED
    assert alert.assigned_to == ic_user


# --- (e) actions that need a reason ---------------------------------------------------------


def test_action_needing_a_reason_first_shows_the_reason_page(admin_client):
    order = OrderFactory()

    response = run_action(admin_client, Order, "cancel", [order])

    assert response.status_code == 200
    assert "admin/transition_reason.html" in [t.name for t in response.templates]
    assert str(order) in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_action_needing_a_reason_refuses_an_empty_one(admin_client):
    order = OrderFactory()

    response = confirm_action(admin_client, Order, "cancel", [order], reason="   ")

    assert response.status_code == 200
    assert "admin/transition_reason.html" in [t.name for t in response.templates]
    assert (message_levels.ERROR, REASON_MISSING) in messages_of(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_action_needing_a_reason_applies_with_one(admin_client, admin_user):
    order = OrderFactory()

    response = confirm_action(
        admin_client, Order, "cancel", [order], reason="Merchant changed plan"
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.status_reason == "Merchant changed plan"
    latest = order.history.latest()
    assert latest.history_change_reason == "order_cancel: Merchant changed plan"
    assert latest.history_user == admin_user


# --- (f) roles ------------------------------------------------------------------------------


def test_ae_sees_the_leads_changelist(client, ae_user):
    LeadFactory()
    client.force_login(ae_user)

    assert client.get(admin_url(Lead, "changelist")).status_code == 200


def test_ae_is_refused_the_audit_log(client, ae_user):
    client.force_login(ae_user)

    assert client.get(admin_url(KybKycAuditLog, "changelist")).status_code == 403
    assert client.get(admin_url(DataAccessAuditLog, "changelist")).status_code == 403


def test_compliance_reviewer_reads_the_kyb_kyc_audit_log(client, compliance_user):
    entry = KybKycAuditLogFactory()
    client.force_login(compliance_user)

    assert client.get(admin_url(KybKycAuditLog, "changelist")).status_code == 200
    assert client.get(admin_url(KybKycAuditLog, "change", entry.pk)).status_code == 200


@pytest.mark.parametrize("role", ["ae_user", "ic_user", "compliance_user", "ops_user"])
def test_every_staff_role_opens_the_admin_index(client, request, role):
    client.force_login(request.getfixturevalue(role))

    assert client.get(reverse("admin:index")).status_code == 200


# --- (g) no raw PII -------------------------------------------------------------------------

EIN = "12-3456789"
EIN_TAIL = "3456789"
ACCOUNT_NUMBER = "000123456789"
ACCOUNT_TAIL = "123456789"


@pytest.fixture
def merchant_with_pii():
    merchant = MerchantFactory(ein=None)
    merchant.set_ein(EIN)
    merchant.save()
    account = MerchantBankAccountFactory(merchant=merchant, account_number=ACCOUNT_NUMBER)
    person = MerchantPersonFactory(merchant=merchant, ssn="123-45-6789")
    return merchant, account, person


def test_merchant_pages_show_only_the_masked_ein_and_account_number(
    admin_client, merchant_with_pii
):
    merchant, account, _ = merchant_with_pii

    merchant_page = admin_client.get(admin_url(Merchant, "change", merchant.pk)).content.decode()
    changelist = admin_client.get(admin_url(Merchant, "changelist")).content.decode()
    account_page = admin_client.get(
        admin_url(MerchantBankAccount, "change", account.pk)
    ).content.decode()

    for page in (merchant_page, changelist, account_page):
        assert EIN_TAIL not in page
        assert ACCOUNT_TAIL not in page
    assert merchant.ein_masked in merchant_page
    assert account.account_number_masked in merchant_page
    assert account.account_number_masked in account_page


def test_person_page_shows_only_the_masked_ssn_and_no_date_of_birth(
    admin_client, merchant_with_pii
):
    _, _, person = merchant_with_pii

    page = admin_client.get(admin_url(MerchantPerson, "change", person.pk)).content.decode()

    assert "45-6789" not in page
    assert person.ssn_masked in page
    assert "date_of_birth" not in page


def test_history_pages_show_no_raw_pii(admin_client, admin_user, merchant_with_pii):
    merchant, account, _ = merchant_with_pii
    merchant_kyb_submit(merchant=merchant, actor=admin_user)

    for model, obj in ((Merchant, merchant), (MerchantBankAccount, account)):
        page = admin_client.get(admin_url(model, "history", obj.pk)).content.decode()
        assert EIN_TAIL not in page
        assert ACCOUNT_TAIL not in page
        assert merchant.ein_hash not in page


# --- (h) no revert from history -------------------------------------------------------------


def test_reverting_from_history_is_refused(admin_client):
    lead = LeadFactory()
    version = lead.history.earliest()
    url = admin_url(Lead, "simple_history", lead.pk, version.history_id)

    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {}).status_code == 403


def test_history_page_offers_no_revert_link(admin_client):
    lead = LeadFactory()
    version = lead.history.earliest()

    page = admin_client.get(admin_url(Lead, "history", lead.pk)).content.decode()

    assert admin_url(Lead, "simple_history", lead.pk, version.history_id) not in page


# --- small checks of the action plumbing ----------------------------------------------------


def test_reason_page_lists_the_selected_objects_and_keeps_the_selection(admin_client):
    orders = [OrderFactory(), OrderFactory()]

    response = run_action(admin_client, Order, "cancel", orders)

    content = response.content.decode()
    for order in orders:
        assert order.order_number in content
        assert f'value="{order.pk}"' in content


def test_refund_of_an_unpaid_order_is_refused_with_the_services_message(admin_client):
    order = OrderFactory(total_amount=Decimal("100.00"))

    response = confirm_action(admin_client, Order, "refund", [order], reason="Customer asked")

    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    [(level, text)] = messages_of(response)
    assert level == message_levels.ERROR
    assert text.startswith(f"{order}: ")
