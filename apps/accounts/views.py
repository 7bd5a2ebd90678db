from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from apps.accounts import roles


@login_required
def home(request):
    """Where a signed-in user lands: a merchant goes to their dashboard, staff see the pages
    of their roles (the navigation lists them too)."""
    user_roles = [g.name for g in request.user.groups.all()]
    if hasattr(request.user, "merchant"):
        return redirect("merchants:dashboard")
    return render(
        request,
        "accounts/home.html",
        {
            "user_roles": user_roles,
            "is_staff_role": any(role in roles.STAFF_ROLES for role in user_roles),
        },
    )
