"""Who may see a merchant page: the merchant's own signed-in user, and nobody else.

Every merchant view takes `request.merchant` from the signed-in user, never from the URL;
ids in a URL (a person, a bank account, an order) are looked up inside that merchant, so
another merchant's id is a 404, never their data.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django_htmx.http import HttpResponseClientRedirect

from apps.merchants.models import Merchant

NO_MERCHANT = "This page is for merchants: your account has no business attached."


def merchant_required(view: Callable) -> Callable:
    """Anonymous → login (and back); a signed-in user without a merchant → 403;
    otherwise the view runs with `request.merchant` set."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            htmx = getattr(request, "htmx", None)
            if htmx:
                back = htmx.current_url_abs_path or request.get_full_path()
                return HttpResponseClientRedirect(redirect_to_login(back).url)
            return redirect_to_login(request.get_full_path())
        merchant = Merchant.objects.select_related("lead").filter(user=request.user).first()
        if merchant is None:
            raise PermissionDenied(NO_MERCHANT)
        request.merchant = merchant
        return view(request, *args, **kwargs)

    return wrapped


def owned_or_404(model, request, **lookup):
    """`model` row with `lookup` that belongs to the request's merchant, else 404."""
    return get_object_or_404(model, merchant=request.merchant, **lookup)
