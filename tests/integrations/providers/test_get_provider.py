"""Which implementation `get_provider` hands out."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.integrations.providers import SYSTEMS, base, get_provider, reset_providers, sandbox
from apps.integrations.providers import http as http_providers
from tests.integrations.providers.conftest import http_settings

INTERFACES = {
    "crm": base.CrmProvider,
    "x_series": base.XSeriesProvider,
    "payments": base.PaymentsProvider,
    "hardware": base.HardwareProvider,
    "billing": base.BillingProvider,
    "email": base.EmailProvider,
}


@pytest.mark.parametrize("system", SYSTEMS)
def test_sandbox_is_the_default_for_every_system(system):
    provider = get_provider(system)
    assert isinstance(provider, sandbox.PROVIDERS[system])
    assert isinstance(provider, INTERFACES[system])


@pytest.mark.parametrize("system", SYSTEMS)
def test_http_mode_gives_the_http_client_of_every_system(settings, system):
    http_settings(settings, "http://provider.invalid/")
    provider = get_provider(system)
    assert isinstance(provider, http_providers.PROVIDERS[system])
    assert isinstance(provider, INTERFACES[system])


def test_one_system_can_use_its_real_provider_while_the_others_stay_sandboxed(settings):
    http_settings(settings, "http://provider.invalid/")
    settings.INTEGRATIONS_MODE = "sandbox"
    settings.INTEGRATIONS_MODE_OVERRIDES = {"crm": "http"}
    assert isinstance(get_provider("crm"), http_providers.HttpCrm)
    assert isinstance(get_provider("payments"), sandbox.SandboxPayments)


def test_clients_are_reused_until_reset():
    first = get_provider("billing")
    assert get_provider("billing") is first
    reset_providers()
    assert get_provider("billing") is not first


def test_http_mode_without_a_url_is_refused_when_first_used_with_the_variable_to_set(settings):
    settings.INTEGRATIONS_MODE_OVERRIDES = {"x_series": "http"}
    settings.PROVIDER_API = {"x_series": {"url": "", "token": ""}}
    with pytest.raises(ImproperlyConfigured, match="X_SERIES_API_URL"):
        get_provider("x_series")


def test_an_unknown_mode_is_refused(settings):
    settings.INTEGRATIONS_MODE = "live"
    with pytest.raises(ImproperlyConfigured, match="live"):
        get_provider("crm")
