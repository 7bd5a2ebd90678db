from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.views.decorators.http import require_http_methods
from django_q.tasks import async_task

from apps.accounts import roles
from apps.accounts.forms import TimeZoneForm
from apps.accounts.models import time_zone_names
from apps.core.links import absolute_url, request_base_url

LOCKED_OUT = (
    "Too many failed sign-ins with this email address from your network. For your security, "
    "signing in with it is paused: try again in {minutes} minutes. Each new attempt before "
    "then restarts the wait."
)
PASSWORD_RESET_SENT = (
    "If an account uses this email address, we sent it a link to choose a new password. "
    "Check your inbox (and your spam folder)."
)
PASSWORD_RESET_TASK = "apps.accounts.tasks.password_reset_email_send"


TIME_ZONE_SAVED = "Time zone saved: staff pages now show times in {zone}."
# The staff workspace's home (apps.staff), named only: the ground imports no app.
STAFF_HOME = "staff:home"


@login_required
def home(request):
    """Where a signed-in user lands: a merchant goes to their dashboard, staff to the staff
    workspace's home (/staff/); anyone else sees what to do next."""
    user_roles = [g.name for g in request.user.groups.all()]
    if hasattr(request.user, "merchant"):
        return redirect("merchants:dashboard")
    if request.user.is_superuser or any(role in roles.STAFF_ROLES for role in user_roles):
        try:
            return redirect(reverse(STAFF_HOME))
        except NoReverseMatch:
            pass
    return render(
        request,
        "accounts/home.html",
        {
            "user_roles": user_roles,
            "is_staff_role": any(role in roles.STAFF_ROLES for role in user_roles),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    """A staff member's preferences: the time zone staff pages show times in."""
    if not (request.user.is_staff or request.user.is_superuser):
        raise PermissionDenied("Preferences are for staff.")
    user = request.user
    if request.method == "POST":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            user.time_zone = form.cleaned_data["time_zone"]
            user.save(update_fields=["time_zone"])
            messages.success(request, TIME_ZONE_SAVED.format(zone=user.time_zone_name()))
            return redirect("accounts:preferences")
        status = 400
    else:
        form = TimeZoneForm(initial={"time_zone": user.time_zone})
        status = 200
    context = {
        "form": form,
        "zones": sorted(time_zone_names()),
        "current": user.time_zone_name(),
        "portal_zone": settings.TIME_ZONE,
    }
    return render(request, "accounts/preferences.html", context, status=status)


def lockout(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in (AXES_LOCKOUT_CALLABLE), on our login page
    and the admin's. The same page whether the email has an account or not: it must not tell."""
    message = LOCKED_OUT.format(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    return render(request, "accounts/lockout.html", {"message": message}, status=429)


def portal_base_url(request) -> str:
    """Root of links sent by email (see apps.core.links: the configured public URL first)."""
    return absolute_url("", base_url=request_base_url(request))


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request. The email goes out from a background task, so the answer is
    the same page in the same time whether the address has an account or not."""

    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        base_url = portal_base_url(self.request)
        transaction.on_commit(lambda: async_task(PASSWORD_RESET_TASK, email, base_url))
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        # A new password lifts the lockout of its email: the owner can sign in at once, and
        # whoever was guessing is now guessing a password nobody has tried yet.
        axes_reset(username=form.user.email)
        return response
