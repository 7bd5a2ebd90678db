"""Roles are Groups. This table is the single source of what each role may do.

Staff roles (AE, IC, compliance, ops) sign in to the admin; merchants never do and hold no
model permissions: they reach only their own data through the merchant pages.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

MERCHANT = "merchant"
AE = "ae"
IC = "ic"
COMPLIANCE = "compliance"
OPS = "ops"
ROLES = (MERCHANT, AE, IC, COMPLIANCE, OPS)
STAFF_ROLES = (AE, IC, COMPLIANCE, OPS)


def _view(*models):
    return [f"{model.split('.')[0]}.view_{model.split('.')[1]}" for model in models]


_VIEW_PIPELINE = _view(
    "leads.lead",
    "merchants.merchant",
    "merchants.merchantlocation",
    "progress.journeystep",
    "progress.merchantstepprogress",
    "progress.stallalert",
    "routing.routingqueue",
    "routing.queueassignment",
    "orders.order",
    "orders.orderitem",
    "orders.product",
    "orders.hardwareshipment",
)

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MERCHANT: [],
    AE: [
        *_VIEW_PIPELINE,
        "leads.change_lead",
        "leads.override_cohort",
        "routing.work_queue",
        "routing.change_queueassignment",
        "orders.add_order",
        "orders.change_order",
        "orders.add_orderitem",
        "orders.change_orderitem",
        "orders.delete_orderitem",
        "orders.view_payment",
        "orders.view_taxrate",
        "routing.view_cohortrule",
        "progress.change_stallalert",
    ],
    IC: [
        *_VIEW_PIPELINE,
        "routing.work_queue",
        "routing.change_queueassignment",
        "progress.change_stallalert",
        "progress.change_merchantstepprogress",
        "merchants.view_merchantperson",
        "merchants.view_merchantbankaccount",
    ],
    COMPLIANCE: [
        *_VIEW_PIPELINE,
        "merchants.view_merchantperson",
        "merchants.view_merchantbankaccount",
        "merchants.decide_kyb",
        "merchants.decide_kyc",
        "merchants.reveal_pii",
        "compliance.view_kybkycauditlog",
        "compliance.view_dataaccessauditlog",
        "compliance.export_audit",
        "routing.work_queue",
    ],
    OPS: [
        *_VIEW_PIPELINE,
        "leads.change_lead",
        "routing.view_cohortrule",
        "routing.add_cohortrule",
        "routing.change_cohortrule",
        "routing.add_routingqueue",
        "routing.change_routingqueue",
        # Business calendars of SLA clocks (working hours, holidays), edited in the admin.
        "routing.view_businesscalendar",
        "routing.add_businesscalendar",
        "routing.change_businesscalendar",
        "routing.view_businesshours",
        "routing.add_businesshours",
        "routing.change_businesshours",
        "routing.delete_businesshours",
        "routing.view_businessholiday",
        "routing.add_businessholiday",
        "routing.change_businessholiday",
        "routing.delete_businessholiday",
        "routing.change_queueassignment",
        "progress.view_stallpolicy",
        "progress.change_stallpolicy",
        "progress.change_stallalert",
        "orders.view_payment",
        "orders.add_product",
        "orders.change_product",
        "orders.view_taxrate",
        "orders.add_taxrate",
        "orders.change_taxrate",
        "integrations.view_integrationevent",
        "integrations.view_externalsystemsync",
        "integrations.retry_sync",
        "integrations.view_webhookevent",
        "accounts.view_user",
        "django_q.view_schedule",
        # Pause, resume and run a schedule now; what it runs is read-only (apps/core/jobs.py).
        "django_q.change_schedule",
        "django_q.view_failure",
        "django_q.view_success",
        "accounts.view_ops_dashboard",
        # Keys of the marketing system's lead intake API (djangorestframework-api-key).
        "rest_framework_api_key.view_apikey",
        "rest_framework_api_key.add_apikey",
        "rest_framework_api_key.change_apikey",
        # Sign-in lockouts (django-axes): deleting an access attempt unlocks that email from
        # that address. The failure and sign-in logs are read-only: they are the record.
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accessfailurelog",
        "axes.view_accesslog",
    ],
}


def _permissions(codes: list[str]):
    query = Q(pk__in=[])
    for code in codes:
        app_label, codename = code.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(query)


def roles_sync() -> dict[str, int]:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS.
    Idempotent; returns the number of permissions per role."""
    counts = {}
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = list(_permissions(codes))
        found = {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
        missing = set(codes) - found
        if missing:
            raise LookupError(f"Role {role} names unknown permissions: {sorted(missing)}")
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts


def roles_sync_on_migrate(sender, app_config=None, **kwargs):
    # Run once, after the last app of the project has migrated and has its permissions.
    if app_config is None or app_config.label != "compliance":
        return
    roles_sync()
