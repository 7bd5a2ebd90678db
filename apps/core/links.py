"""Absolute links for emails, which are read away from any request.

They are rooted at the PORTAL_BASE_URL setting when it is set, so a forged Host header can
never point an emailed link (account, verification, reset) elsewhere; else at the address
the visitor used (`base_url`, from request_base_url); else at the development address."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

DEFAULT_BASE_URL = "http://localhost:8000"


def absolute_url(path: str, *, base_url: str = "") -> str:
    base = (settings.PORTAL_BASE_URL or base_url or DEFAULT_BASE_URL).rstrip("/")
    return base + path


def request_base_url(request) -> str:
    """This site's address as the visitor reached it."""
    return request.build_absolute_uri("/").rstrip("/")


# --- Step links: the resumable links of every email to a merchant ---------------------------
# A signed, expiring, single-purpose token naming a merchant and where to take them (a step,
# a page path); the view behind merchants:step_link checks who opens it. Signed with
# django.core.signing.TimestampSigner under STEP_LINK_SALT, so no other signed value of the
# site (account links, sessions) is accepted as one.
STEP_LINK_SALT = "merchants.step-link.v1"
STEP_LINK_URL_NAME = "merchants:step_link"


def step_link_max_age() -> int:
    """Seconds a step link stays valid (STEP_LINK_MAX_AGE_DAYS, default 7)."""
    return int(settings.STEP_LINK_MAX_AGE_DAYS * 24 * 3600)


def step_link_token(*, merchant_id, step_id: int | None = None, path: str = "") -> str:
    """`path` (a site path, e.g. "/bank-account/") wins over `step_id`; neither: wherever
    the merchant stands when they open it ("continue where you left off")."""
    signer = signing.TimestampSigner(salt=STEP_LINK_SALT)
    return signer.sign_object({"m": str(merchant_id), "s": step_id, "p": path}, compress=True)


def step_link_read(token: str, *, max_age: int | None = None) -> dict:
    """{"m", "s", "p"}. Raises signing.SignatureExpired when older than `max_age` (default
    step_link_max_age()), signing.BadSignature when forged or not a step link."""
    signer = signing.TimestampSigner(salt=STEP_LINK_SALT)
    data = signer.unsign_object(token, max_age=step_link_max_age() if max_age is None else max_age)
    if not isinstance(data, dict) or not isinstance(data.get("m"), str):
        raise signing.BadSignature("Not a step link.")
    return data


def step_link_read_expired(token: str) -> dict:
    """What an expired but genuine link names (to send a fresh one to the same merchant).
    Raises signing.BadSignature when forged."""
    return step_link_read(token, max_age=10**10)


def step_link_url(
    *, merchant_id, step_id: int | None = None, path: str = "", base_url: str = ""
) -> str:
    """The absolute URL of a step link, for an email."""
    token = step_link_token(merchant_id=merchant_id, step_id=step_id, path=path)
    return absolute_url(reverse(STEP_LINK_URL_NAME, args=[token]), base_url=base_url)
