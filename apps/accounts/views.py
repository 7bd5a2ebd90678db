from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from apps.accounts import roles


@login_required
def home(request):
    """Where a signed-in user lands: the pages of their role."""
    user_roles = [g.name for g in request.user.groups.all()]
    return render(
        request,
        "accounts/home.html",
        {
            "user_roles": user_roles,
            "is_staff_role": any(role in roles.STAFF_ROLES for role in user_roles),
        },
    )
