"""Role checks for staff pages. Roles are Groups (apps.accounts.roles); the services still
check the model permission of each action, so a page's role check decides only who may see
the page, never what a user may change."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django_htmx.http import HttpResponseClientRedirect


def user_has_role(user, *roles: str) -> bool:
    """True for a signed-in user in one of `roles`, and for superusers."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    # Read once per request with the user (User.role_names), not a query per check.
    return not user.role_names.isdisjoint(roles)


def role_required(*roles: str) -> Callable:
    """View decorator: anonymous users go to the login page (and come back after), signed-in
    users outside `roles` get a 403. Superusers pass.

        @role_required(roles.OPS)
        def ops_console(request): ...
    """
    if not roles:
        raise ValueError("role_required needs at least one role.")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                htmx = getattr(request, "htmx", None)
                if htmx:
                    # An htmx request would swap the login page into a fragment: send the
                    # whole window there, coming back to the page the user was on.
                    back = htmx.current_url_abs_path or request.get_full_path()
                    return HttpResponseClientRedirect(redirect_to_login(back).url)
                return redirect_to_login(request.get_full_path())
            if not user_has_role(user, *roles):
                raise PermissionDenied("This page is for the " + ", ".join(roles) + " role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
