"""The navigation each role sees, built once per request from apps.accounts.roles."""

from django.urls import NoReverseMatch, reverse

from apps.accounts import roles

# (label, URL name, roles that see it)
NAV = [
    ("Home", "staff:home", {roles.AE, roles.IC, roles.COMPLIANCE, roles.OPS}),
    ("Dashboard", "merchants:dashboard", {roles.MERCHANT}),
    ("Orders", "orders:order_list", {roles.MERCHANT}),
    ("Queues", "routing:queue_index", {roles.AE, roles.IC, roles.OPS}),
    ("Leads", "leads:staff_lead_list", {roles.AE, roles.IC, roles.COMPLIANCE, roles.OPS}),
    ("Alerts", "progress:alert_inbox", {roles.AE, roles.IC, roles.OPS}),
    ("Orders", "orders:staff_order_list", {roles.AE, roles.OPS}),
    ("Compliance", "compliance:review", {roles.COMPLIANCE}),
    ("Ops", "progress:ops_dashboard", {roles.OPS}),
    ("Integrations", "integrations:ops_console", {roles.OPS}),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    user_roles = set(roles.ROLES) if user.is_superuser else user.role_names
    links = []
    for label, name, allowed in NAV:
        if user_roles & allowed:
            try:
                links.append({"label": label, "url": reverse(name)})
            except NoReverseMatch:
                continue
    return {"nav_links": links}
