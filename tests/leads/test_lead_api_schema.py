"""The lead API does what its OpenAPI schema (/api/v1/schema/) says. Schemathesis builds
requests from the schema, valid and invalid ones, sends them to the WSGI application (no
network) and checks every answer: no 500, a documented status code, content type and body,
invalid input refused and valid input taken.

Left out, on purpose:
- the webhook endpoint (tag "webhooks"): a request built from the schema cannot carry the
  HMAC signature over its raw body, so every one would meet the same 401; the webhook is
  fuzzed with signed and unsigned bodies in tests/integrations/test_webhook_fuzz.py;
- NUL characters in generated strings: the API refuses them in any string of any body
  before validation (apps/core/parsers.py, said in the schema's description), which a JSON
  schema could only say with a pattern on every string; tests/core/ covers that refusal."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from config.wsgi import application
from tests.accounts.factories import AeUserFactory
from tests.leads.factories import LeadFactory, api_key

pytestmark = pytest.mark.django_db

# Loaded when the module is imported: building the schema needs no database. (Schemathesis'
# lazy fixture loader does not work with pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application).include(tag="leads")
schema.config.generation.update(allow_x00=False)

CSRF_TOKEN = "t" * 32  # a CSRF secret: the cookie and the header only have to match


@pytest.fixture(autouse=True)
def _requests_keep_the_test_transaction():
    # The WSGI handler closes the database connection when a request finishes; the test's
    # transaction must outlive the requests, as Django's test client arranges for itself.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db) -> dict:
    """How each caller signs its requests: the marketing system with its API key, an AE
    (who alone may override a cohort) with a session cookie and its CSRF token."""
    ae = Client()
    ae.force_login(AeUserFactory())
    session = ae.cookies["sessionid"].value
    return {
        "marketing": {"Authorization": f"Api-Key {api_key()}"},
        # As a header, so that schemathesis knows these are real credentials, not generated.
        "ae": {"Cookie": f"sessionid={session}; csrftoken={CSRF_TOKEN}", "X-CSRFToken": CSRF_TOKEN},
    }


@schema.parametrize()
@schema.given(saved_lead=st.booleans())
@settings(
    max_examples=50,  # per operation: about 2 s each
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure is a bug, not bad luck
    database=None,
    # One database and one set of credentials serve all examples of an operation, on purpose.
    suppress_health_check=list(HealthCheck),
)
def test_the_lead_api_answers_as_its_schema_says(case, saved_lead, credentials):
    if saved_lead and "lead_id" in (case.path_parameters or {}):
        case.path_parameters["lead_id"] = str(LeadFactory().pk)
    caller = "ae" if case.method.upper() == "PUT" else "marketing"

    case.call_and_validate(headers=credentials[caller])
