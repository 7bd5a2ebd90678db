"""Staff workspace views: thin, the figures come from the domain apps' selectors."""

from django.shortcuts import get_object_or_404, render

from apps.accounts import roles
from apps.core.permissions import role_required
from apps.merchants.models import Merchant


@role_required(*roles.STAFF_ROLES)
def home(request):
    return render(request, "staff/home.html", {})


@role_required(*roles.STAFF_ROLES)
def merchant_detail(request, merchant_id):
    merchant = get_object_or_404(Merchant.objects.select_related("lead"), pk=merchant_id)
    return render(request, "staff/merchant.html", {"merchant": merchant})
