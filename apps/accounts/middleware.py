"""Times on staff pages are in the viewer's zone: StaffTimeZoneMiddleware activates the
signed-in staff member's `User.time_zone` (the portal's TIME_ZONE when empty) for the request,
so every `{{ value|date }}`, `localtime` and the `times` filters render in it. Merchants and
anonymous visitors keep the portal's zone."""

import zoneinfo

from django.utils import timezone


class StaffTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and (user.is_staff or user.is_superuser):
            timezone.activate(zoneinfo.ZoneInfo(user.time_zone_name()))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
