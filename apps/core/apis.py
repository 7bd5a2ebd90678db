from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import DomainError

API_NOT_FOUND = "No API endpoint answers at this address (check the path and the id in it)."


def exception_handler(exc, context):
    """DomainErrors become JSON with their status (409 for a refused transition)."""
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status_code)
    if isinstance(exc, ValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(errors, status=400)
    return drf_exception_handler(exc, context)


class NotFoundApi(APIView):
    """Mounted last under /api/: an address no endpoint matches (a misspelt path, a lead id
    that is not a UUID, which the `<uuid:...>` converters do not match) gets the API's JSON
    404 for every method, instead of Django's HTML page."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    schema = None  # not an endpoint: kept out of the OpenAPI schema

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(API_NOT_FOUND)
