"""The client's IP address, for the sign-in lockout (django-axes' AXES_CLIENT_IP_CALLABLE).

Without settings.CLIENT_IP_HEADER it is REMOTE_ADDR: a header could be written by anyone, so
none is trusted unless the deployment says which one its proxies write. With it (e.g.
"X-Forwarded-For"), each of the CLIENT_IP_PROXY_COUNT proxies in front appends the address
it received from, so the entry that many places from the right is the client as our
outermost proxy saw it; entries further left were sent by the client and are ignored.
"""

import ipaddress

from django.conf import settings


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def client_ip(request) -> str | None:
    remote_addr = request.META.get("REMOTE_ADDR")
    header = settings.CLIENT_IP_HEADER
    if not header:
        return remote_addr
    entries = [entry.strip() for entry in request.META.get(_meta_key(header), "").split(",")]
    count = settings.CLIENT_IP_PROXY_COUNT
    if count < 1 or len(entries) < count:
        # Not written by all our proxies: this request did not come through them.
        return remote_addr
    try:
        return str(ipaddress.ip_address(entries[-count]))
    except ValueError:
        return remote_addr
