"""Inbound webhooks over HTTP. The HMAC signature over the raw body is the authentication:
no session, no CSRF, no DRF parsing before the signature is checked."""

import ipaddress

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.integrations import inbox, signing

MAX_BODY_BYTES = 1024 * 1024
BODY_TOO_LARGE = f"The body is larger than 1 MiB ({MAX_BODY_BYTES} bytes): it was not stored."
UNKNOWN_PROVIDER = "Unknown webhook provider."
UNSTORABLE_BODY = (
    "The body cannot be read or stored (a NUL character, an invalid number or string, "
    "or nesting too deep)."
)

# The "status" of a 2xx answer (named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
WEBHOOK_ANSWERS = ("accepted", "duplicate")

# Kept with the event for whoever investigates it later; never cookies or credentials.
STORED_HEADERS = ("Content-Type", "User-Agent", "X-Request-Id", signing.HEADER)
_MAX_HEADER_CHARS = 500


class _JsonWhateverTheClientAccepts(BaseContentNegotiation):
    """Providers get JSON back even when their Accept header asks for something else: a
    webhook must never be refused (406) for its Accept header."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _stored_headers(request) -> dict:
    headers = {}
    for name in STORED_HEADERS:
        value = request.headers.get(name)
        if value:
            headers[name] = value.replace("\x00", "")[:_MAX_HEADER_CHARS]
    return headers


def _source_ip(request) -> str | None:
    # REMOTE_ADDR, as the compliance audit records it; absent or odd (a unix socket) is None.
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _signature_problem(provider: str, body: bytes, signature: str | None) -> str | None:
    try:
        signing.verify(provider, body, signature)
    except signing.SignatureError as exc:
        return str(exc)
    except (OverflowError, ValueError):  # a timestamp too large to compare with the clock
        return "Malformed signature header."
    return None


def _detail(message: str, code: int) -> Response:
    return Response({"detail": message}, status=code)


class WebhookReceiveApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JsonWhateverTheClientAccepts

    class InputSerializer(serializers.Serializer):
        """Documentation only: the raw body is verified and parsed by the inbox."""

        id = serializers.CharField(max_length=255, help_text="The provider's event id.")
        type = serializers.CharField(max_length=100, help_text="The event type.")

        class Meta:
            ref_name = "WebhookReceiveInput"

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=WEBHOOK_ANSWERS)
        id = serializers.UUIDField(help_text="Our id of the stored webhook event.")

        class Meta:
            ref_name = "WebhookReceiveOutput"

    class ErrorSerializer(serializers.Serializer):
        detail = serializers.CharField()

        class Meta:
            ref_name = "WebhookReceiveError"

    @extend_schema(
        operation_id="webhook_receive",
        summary="Receive a provider webhook",
        description=(
            "Stores the event once per provider and event id, then processes it in the "
            "background. The body is a JSON object with string `id` and `type`, signed with "
            "the provider's shared secret: `X-Signature: t=<unix time>,v1=<hex HMAC-SHA256 "
            'of "<t>.<raw body>">`. Signatures older than the tolerance are refused '
            "(replay). A duplicate of an event already processed is acknowledged and ignored; a "
            "re-send of one not processed yet is processed (202). Bodies over 1 MiB are refused."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "provider",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(settings.WEBHOOK_PROVIDERS),
            ),
            OpenApiParameter(
                signing.HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="t=<unix timestamp>,v1=<hex HMAC-SHA256>",
            ),
        ],
        request=InputSerializer,
        responses={
            202: OpenApiResponse(OutputSerializer, description="Stored; processed later."),
            200: OpenApiResponse(OutputSerializer, description="Already processed: ignored."),
            400: OpenApiResponse(ErrorSerializer, description="Not a JSON object with id/type."),
            401: OpenApiResponse(ErrorSerializer, description="Missing, wrong or old signature."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown provider."),
            413: OpenApiResponse(ErrorSerializer, description="Body larger than 1 MiB."),
        },
    )
    def post(self, request, provider: str):
        if provider not in settings.WEBHOOK_PROVIDERS:
            return _detail(UNKNOWN_PROVIDER, status.HTTP_404_NOT_FOUND)
        if _declared_length(request) > MAX_BODY_BYTES:
            return _detail(BODY_TOO_LARGE, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        try:
            body = request.body  # the raw bytes the signature covers
        except RequestDataTooBig:
            return _detail(BODY_TOO_LARGE, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if len(body) > MAX_BODY_BYTES:
            return _detail(BODY_TOO_LARGE, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        signature = request.META.get(signing.META_KEY)

        refusal = None
        try:
            # A savepoint, so that input the database refuses leaves the connection usable;
            # the refusals are caught inside it so the rejected row the inbox keeps commits.
            with transaction.atomic():
                try:
                    event, created = inbox.webhook_receive(
                        provider=provider,
                        body=body,
                        signature=signature,
                        headers=_stored_headers(request),
                        source_ip=_source_ip(request),
                    )
                except (signing.SignatureError, inbox.MalformedWebhook) as exc:
                    refusal = exc
        except (DataError, RecursionError, OverflowError, ValueError):
            # Input the inbox cannot parse or the database cannot store (a NUL character,
            # a lone surrogate, NaN, a 5000-digit number, absurd nesting, a signature
            # timestamp too large for the clock): the sender's mistake, never a 500.
            problem = _signature_problem(provider, body, signature)
            if problem:
                return _detail(problem, status.HTTP_401_UNAUTHORIZED)
            return _detail(UNSTORABLE_BODY, status.HTTP_400_BAD_REQUEST)

        if isinstance(refusal, signing.SignatureError):
            return _detail(str(refusal), status.HTTP_401_UNAUTHORIZED)
        if refusal is not None:
            return _detail(str(refusal), status.HTTP_400_BAD_REQUEST)
        if created:
            return Response(
                {"status": "accepted", "id": str(event.pk)}, status=status.HTTP_202_ACCEPTED
            )
        return Response({"status": "duplicate", "id": str(event.pk)}, status=status.HTTP_200_OK)
