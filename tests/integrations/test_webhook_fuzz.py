"""Whatever arrives at the webhook endpoint, the answer is a deliberate status, never a 500;
and a correctly signed JSON object with an id and a type is always accepted (or recognised
as a duplicate)."""

import json
import time
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.integrations import signing
from apps.integrations.apis import MAX_BODY_BYTES

pytestmark = pytest.mark.django_db

ANSWERS = {200, 202, 400, 401, 404, 413}
PROVIDERS = list(django_settings.WEBHOOK_PROVIDERS)

# The database (function-scoped) is shared by all examples of a test: rows pile up, which
# only turns some acceptances into duplicates, both allowed answers.
fuzz = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure here is a bug, not luck
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities too: json.dumps writes them, PostgreSQL refuses them
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
huge_text = st.builds(
    lambda chunk, times: chunk * times, st.text(min_size=1, max_size=4), st.integers(0, 400_000)
)
nested = st.integers(1, 5_000).map(lambda depth: "[" * depth + "]" * depth)
objects_with_id = st.fixed_dictionaries(
    {"id": st.text(max_size=300), "type": st.text(max_size=300)},
    optional={"data": json_values, "padding": huge_text},
)

bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(json.dumps),
    huge_text,
    nested,
    objects_with_id.map(json.dumps),
).map(lambda body: body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass"))

# Mostly real providers, so that most cases reach the signature check and the inbox.
unknown_providers = st.one_of(st.sampled_from(["nobody", "CRM", ""]), st.text(max_size=20))
providers = st.integers(0, 7).flatmap(
    lambda n: unknown_providers if n == 0 else st.sampled_from(PROVIDERS)
)
signature_kinds = st.sampled_from(["none", "garbage", "wrong_secret", "expired", "valid"])


def sign_as(kind: str, provider: str, body: bytes, garbage: str) -> str | None:
    secret_provider = provider if provider in PROVIDERS else PROVIDERS[0]
    if kind == "none":
        return None
    if kind == "garbage":
        return garbage
    if kind == "expired":
        old = int(time.time()) - django_settings.WEBHOOK_TOLERANCE_SECONDS - 1
        return signing.sign(secret_provider, body, timestamp=old)
    if kind == "wrong_secret":
        other = next(p for p in PROVIDERS if p != secret_provider)
        return signing.sign(other, body)
    return signing.sign(secret_provider, body)


def post(client, provider: str, body: bytes, signature: str | None):
    headers = {signing.HEADER: signature} if signature is not None else {}
    return client.post(
        f"/api/v1/webhooks/{quote(provider, safe='')}/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


@fuzz
@given(
    provider=providers,
    body=bodies,
    kind=signature_kinds,
    garbage=st.text(max_size=80).map(lambda s: s.replace("\n", "").replace("\r", "")),
)
def test_no_input_gets_a_500(client, provider, body, kind, garbage):
    response = post(client, provider, body, sign_as(kind, provider, body, garbage))

    assert response.status_code in ANSWERS, (response.status_code, response.content[:300])
    if len(body) > MAX_BODY_BYTES and provider in PROVIDERS:
        assert response.status_code == 413


# What a genuine provider sends: no NUL (PostgreSQL cannot store it), no NaN.
storable_chars = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
storable_text = st.text(storable_chars)
storable_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | storable_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(storable_text, children, max_size=5)
    ),
    max_leaves=25,
)


def non_blank(max_size: int):
    return st.text(storable_chars, min_size=1, max_size=max_size).filter(lambda s: s.strip())


@fuzz
@given(
    provider=st.sampled_from(PROVIDERS),
    event_id=non_blank(255),
    # WebhookEvent.event_type holds 100 characters.
    event_type=non_blank(100),
    extra=st.dictionaries(
        storable_text.filter(lambda k: k not in ("id", "type")), storable_json, max_size=5
    ),
)
def test_a_correctly_signed_event_is_always_accepted(client, provider, event_id, event_type, extra):
    body = json.dumps({**extra, "id": event_id, "type": event_type}).encode()

    response = post(client, provider, body, signing.sign(provider, body))

    assert response.status_code in (200, 202), (response.status_code, response.content[:300])
    assert response.json()["status"] in ("accepted", "duplicate")
