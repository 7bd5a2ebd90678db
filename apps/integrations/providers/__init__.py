"""The client for each external system, chosen by settings:

    get_provider("payments").submit_kyb(idempotency_key=str(event.pk), business={...})

`settings.INTEGRATIONS_MODE` ("sandbox", the default, or "http") applies to every system;
`INTEGRATIONS_MODE_<SYSTEM>` in the environment overrides it for one (INTEGRATIONS_MODE_CRM=
http). Clients are created on first use and kept per (system, mode); `reset_providers()`
forgets them (tests that change provider settings; done automatically by override_settings).
"""

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SYSTEMS = ("crm", "x_series", "payments", "hardware", "billing", "email")
MODES = ("sandbox", "http")

_instances: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


def provider_mode(system: str) -> str:
    mode = settings.INTEGRATIONS_MODE_OVERRIDES.get(system, settings.INTEGRATIONS_MODE)
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"Integration mode “{mode}” for {system} is not one of: {', '.join(MODES)}."
        )
    return mode


def _create(system: str, mode: str):
    if mode == "http":
        from apps.integrations.providers import http as implementations
    else:
        from apps.integrations.providers import sandbox as implementations
    return implementations.PROVIDERS[system]()


def get_provider(system: str):
    """The client of `system` (one of SYSTEMS) in its configured mode."""
    if system not in SYSTEMS:
        raise ValueError(f"Unknown external system “{system}”.")
    key = (system, provider_mode(system))
    with _lock:
        if key not in _instances:
            _instances[key] = _create(*key)
        return _instances[key]


def reset_providers() -> None:
    with _lock:
        for provider in _instances.values():
            if hasattr(provider, "close"):
                provider.close()
        _instances.clear()


_PROVIDER_SETTINGS = {
    "INTEGRATIONS_MODE",
    "INTEGRATIONS_MODE_OVERRIDES",
    "PROVIDER_API",
    "PROVIDER_TIMEOUT_SECONDS",
}


@receiver(setting_changed)
def _reset_on_setting_changed(*, setting, **kwargs):
    if setting in _PROVIDER_SETTINGS:
        reset_providers()
