"""Links from the queue screens to the staff pages of other apps, with a fallback to the
admin while a page does not exist yet (the staff lead detail page comes with the leads app's
work on issue 4)."""

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def lead_url(lead_id) -> str:
    """The staff lead detail page (leads:staff_lead_detail), else the lead's admin page."""
    try:
        return reverse("leads:staff_lead_detail", kwargs={"lead_id": lead_id})
    except NoReverseMatch:
        return reverse("admin:leads_lead_change", args=[lead_id])


@register.simple_tag
def merchant_url(merchant_id) -> str:
    """The staff merchant hub (staff:merchant), else the merchant's admin page."""
    try:
        return reverse("staff:merchant", kwargs={"merchant_id": merchant_id})
    except NoReverseMatch:
        return reverse("admin:merchants_merchant_change", args=[merchant_id])
