"""Issue 15, nothing silent: every outcome that changes what a merchant must do is emailed
through the outbox (plain text + HTML), with one absolute, signed, expiring step link that
lands a signed-in merchant on the step, a signed-out one on sign-in and then the step; an
expired link says so and sends a fresh one by email; a forged one is refused."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from apps.core.links import step_link_read, step_link_token
from apps.integrations.models import IntegrationEvent
from apps.integrations.tasks import event_deliver
from apps.merchants import emails
from apps.merchants.choices import CheckStatus
from apps.merchants.services import bank, kyb, kyc, setup
from apps.merchants.services.step_links import STEP_LINK_REQUESTED
from apps.merchants.views.step_links import (
    FRESH_LINK_SENT,
    LINK_EXPIRED,
    LINK_INVALID,
    LINK_OTHER_ACCOUNT,
)
from apps.orders.services import quotes, shipments
from tests.accounts.factories import AeUserFactory, MerchantUserFactory
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantPersonFactory,
    account_created_merchant,
    merchant_at_setup,
)
from tests.orders.factories import HardwareShipmentFactory, OrderFactory

pytestmark = pytest.mark.django_db

BASE = "https://portal.example.com"
LINK = re.compile(re.escape(BASE) + r"/continue/([^/\s\"]+)/")


@pytest.fixture(autouse=True)
def portal(settings):
    settings.PORTAL_BASE_URL = BASE
    settings.STEP_LINK_MAX_AGE_DAYS = 7


@pytest.fixture
def outbox(django_capture_on_commit_callbacks):
    """Run `call` and deliver what it put in the outbox (after commit, as in production)."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            result = call()
        return result

    return run


def only_email(subject_start: str):
    sent = [message for message in mail.outbox if message.subject.startswith(subject_start)]
    assert len(sent) == 1, [message.subject for message in mail.outbox]
    return sent[0]


def link_in(message) -> str:
    """The one link of the email, the same in the text and the HTML part."""
    text_links = LINK.findall(message.body)
    [(html, _type)] = message.alternatives
    html_links = LINK.findall(html)
    assert len(set(text_links)) == 1 and set(text_links) == set(html_links)
    assert "http://" not in message.body.replace(BASE, "")  # nothing rooted elsewhere
    return f"/continue/{text_links[0]}/"


def submitted_merchant():
    merchant = account_created_merchant()
    kyb.merchant_kyb_details_submit(
        merchant=merchant,
        actor=merchant.user,
        ein="12-3456789",
        business_structure="llc",
        registered_address_line1="1 Market St",
        registered_city="Austin",
        registered_state="TX",
        registered_postal_code="73301",
    )
    merchant.refresh_from_db()
    return merchant


# --- one test per email: sent through the outbox, absolute link, lands on the step -----------


def kyb_approved(run):
    merchant = submitted_merchant()
    run(
        lambda: kyb.merchant_kyb_provider_decide(
            merchant=merchant, decision="approved", check_id="k1"
        )
    )
    return merchant, "merchant.kyb_approved", reverse("orders:quote")


def kyb_rejected(run):
    merchant = submitted_merchant()
    run(
        lambda: kyb.merchant_kyb_provider_decide(
            merchant=merchant,
            decision="rejected",
            check_id="k1",
            reason="The EIN does not match the name",
        )
    )
    return merchant, "merchant.kyb_rejected", reverse("merchants:kyb") + "#id_ein"


def kyb_review(run):
    merchant = submitted_merchant()
    run(
        lambda: kyb.merchant_kyb_provider_decide(
            merchant=merchant, decision="review_required", check_id="k1"
        )
    )
    return merchant, "merchant.kyb_review_required", reverse("merchants:kyb")


def kyc_rejected(run):
    merchant = merchant_at_setup(kyc_status=CheckStatus.SUBMITTED)
    person = MerchantPersonFactory(merchant=merchant, kyc_status=CheckStatus.SUBMITTED)
    run(
        lambda: kyc.person_kyc_provider_decide(
            person=person, decision="rejected", check_id="c1", reason="SSN does not match"
        )
    )
    return merchant, "person.kyc_rejected", reverse("merchants:kyc")


def bank_failed(run):
    merchant = merchant_at_setup(kyc_status=CheckStatus.APPROVED)
    account = MerchantBankAccountFactory(merchant=merchant, verification_status="in_progress")
    run(
        lambda: bank.bank_account_verification_fail(
            bank_account=account, reason="The account is closed"
        )
    )
    return merchant, "bank_account.verification_failed", reverse("merchants:bank_account")


def hardware_shipped(run):
    merchant = merchant_at_setup()
    shipment = HardwareShipmentFactory(order__merchant=merchant)
    shipments.shipment_process(shipment=shipment)
    run(lambda: shipments.shipment_ship(shipment=shipment, tracking_number="1ZTRACK"))
    return merchant, "shipment.ship", reverse("merchants:hardware_setup")


def going_live(run):
    merchant = merchant_at_setup(
        steps_done=[1, 2, 3, 4, 5, 6, 7, 9], kyc_status="approved", payments_activated=True
    )
    run(
        lambda: setup.merchant_go_live(
            merchant=merchant, actor=merchant.user, payouts_held_confirmed=True
        )
    )
    return merchant, "merchant.journey_completed", reverse("merchants:dashboard")


def quote_ready(run):
    merchant = merchant_at_setup(steps_done=[1, 2, 3, 4, 5])
    order = OrderFactory(merchant=merchant, created_by=AeUserFactory(), is_self_serve=False)
    run(lambda: quotes.order_quote_notify(order_id=order.pk, idempotency_key="quote-1"))
    return merchant, None, reverse("orders:quote_accept", args=[order.order_number])


OUTCOMES = {
    "kyb_approved": (kyb_approved, "Your business is verified", "Choose your plan"),
    "kyb_rejected": (kyb_rejected, "Action needed: we could not verify", "EIN does not match"),
    "kyb_review": (kyb_review, "Your business is being reviewed", "compliance team"),
    "kyc_rejected": (kyc_rejected, "Action needed: an owner", "SSN does not match"),
    "bank_failed": (bank_failed, "Action needed: your bank account", "The account is closed"),
    "hardware_shipped": (hardware_shipped, "Your hardware is on its way", "1ZTRACK"),
    "going_live": (going_live, "", emails.PAYOUTS_HELD_LINE),
    "quote_ready": (quote_ready, "Your quote", "Review and accept it"),
}


@pytest.mark.parametrize("name", OUTCOMES)
def test_each_outcome_is_emailed_with_a_step_link_that_lands_on_the_step(
    client, journey_steps, outbox, name
):
    make, subject, says = OUTCOMES[name]
    merchant, event_type, step_path = make(outbox)

    message = only_email(subject or f"{merchant.legal_business_name} is live")
    assert message.to == [merchant.user.email]
    assert says in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and says.split(":")[0] in html
    if event_type is not None:  # sent from the outbox event, once
        assert IntegrationEvent.objects.filter(event_type=event_type).exists()
    path = link_in(message)

    anonymous = client.get(path)
    assert anonymous.status_code == 302
    assert anonymous.url == f"{reverse('accounts:login')}?next={step_path.replace('#', '%23')}"
    client.force_login(merchant.user)
    landed = client.get(path)
    assert (landed.status_code, landed.url) == (302, step_path)


def test_a_redelivered_event_sends_no_second_email(journey_steps, outbox):
    _merchant, event_type, _path = kyb_rejected(outbox)
    event = IntegrationEvent.objects.get(event_type=event_type)

    event.published = False
    event.save(update_fields=["published"])
    outbox(lambda: event_deliver(str(event.pk)))  # delivered again, as after a worker crash

    assert len([m for m in mail.outbox if m.subject.startswith("Action needed")]) == 1


def test_an_email_send_that_fails_is_retried_by_the_outbox(journey_steps, outbox, monkeypatch):
    from apps.integrations.providers import sandbox

    real_send = sandbox.SandboxEmail.send
    calls = []

    def flaky(self, **kwargs):
        calls.append(kwargs["subject"])
        if len(calls) == 1:
            raise ConnectionError("mail server away")
        return real_send(self, **kwargs)

    monkeypatch.setattr(sandbox.SandboxEmail, "send", flaky)
    _merchant, event_type, _path = kyb_review(outbox)
    event = IntegrationEvent.objects.get(event_type=event_type)
    assert not [m for m in mail.outbox if m.subject.startswith("Your business is being")]

    failed = IntegrationEvent.objects.get(pk=event.pk)
    assert failed.last_publish_error
    assert failed.available_at > timezone.now()  # retried later, with backoff
    # Its retry time comes; the dispatcher delivers it again.
    IntegrationEvent.objects.filter(pk=event.pk).update(available_at=timezone.now())
    outbox(lambda: event_deliver(str(event.pk)))

    only_email("Your business is being reviewed")


# --- the link itself --------------------------------------------------------------------------


def test_an_expired_link_is_refused_and_a_fresh_one_is_emailed(client, journey_steps, outbox):
    merchant = account_created_merchant()
    token = step_link_token(merchant_id=merchant.pk, step_id=3)
    client.force_login(merchant.user)

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        expired = client.get(f"/continue/{token}/")
        resent = outbox(lambda: client.post(f"/continue/{token}/"))
        again = outbox(lambda: client.post(f"/continue/{token}/"))  # within 2 minutes
        assert expired.status_code == resent.status_code == again.status_code == 410
        assert LINK_EXPIRED in expired.text
        assert "Email me a fresh link" in expired.text
        assert FRESH_LINK_SENT in resent.text and FRESH_LINK_SENT in again.text
        message = only_email("Your link to continue")
        assert message.to == [merchant.user.email]
        fresh = client.get(link_in(message))

    assert (fresh.status_code, fresh.url) == (302, reverse("merchants:kyb"))
    assert IntegrationEvent.objects.filter(event_type=STEP_LINK_REQUESTED).count() == 1


def test_the_max_age_is_configurable(client, journey_steps, settings):
    settings.STEP_LINK_MAX_AGE_DAYS = 1
    merchant = account_created_merchant()
    token = step_link_token(merchant_id=merchant.pk, step_id=3)

    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        assert client.get(f"/continue/{token}/").status_code == 410
    with pytest.raises(signing.SignatureExpired):
        step_link_read(token, max_age=0)


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        signing.dumps("x", salt="lead-account"),  # another purpose's signed value
        signing.TimestampSigner(salt="merchants.step-link.v1").sign_object({"m": 1}),
        "a" * 5000,
        "<img src=x onerror=alert(1)>",
    ],
    ids=["garbage", "other-salt", "not-a-merchant", "huge", "html"],
)
def test_a_forged_link_is_a_400_that_changes_nothing(client, journey_steps, token):
    response = client.get(reverse("merchants:step_link", args=[token]))
    posted = client.post(reverse("merchants:step_link", args=[token]))

    assert response.status_code == posted.status_code == 400
    assert LINK_INVALID in response.text
    assert "<img src=x" not in response.text
    assert not IntegrationEvent.objects.filter(event_type=STEP_LINK_REQUESTED).exists()


def test_a_link_for_another_merchant_shows_nothing_of_it(client, journey_steps):
    mine, theirs = account_created_merchant(), account_created_merchant()
    client.force_login(mine.user)

    response = client.get(f"/continue/{step_link_token(merchant_id=theirs.pk, step_id=3)}/")

    assert response.status_code == 403
    assert LINK_OTHER_ACCOUNT in response.text
    assert theirs.legal_business_name not in response.text


@pytest.mark.parametrize("make_user", [AeUserFactory, MerchantUserFactory])
def test_staff_or_a_user_without_a_business_is_refused(client, journey_steps, make_user):
    merchant = account_created_merchant()
    client.force_login(make_user())

    response = client.get(f"/continue/{step_link_token(merchant_id=merchant.pk, step_id=3)}/")

    assert response.status_code == 403


def test_a_link_without_a_step_continues_where_the_merchant_stands(client, journey_steps):
    merchant = account_created_merchant()
    client.force_login(merchant.user)

    response = client.get(f"/continue/{step_link_token(merchant_id=merchant.pk)}/")

    assert (response.status_code, response.url) == (302, reverse("merchants:kyb"))


def test_a_signed_path_to_another_site_is_never_followed(client, journey_steps):
    merchant = account_created_merchant()
    client.force_login(merchant.user)
    token = step_link_token(merchant_id=merchant.pk, path="//evil.example/")

    response = client.get(f"/continue/{token}/")

    assert response.url == reverse("merchants:kyb")
