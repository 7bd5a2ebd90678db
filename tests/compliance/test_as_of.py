"""A merchant's state at any past moment, from the history tables (issue 16): a scripted
journey is snapshotted live at many moments, then each moment is reconstructed later and
must be equal, every time."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from apps.compliance.as_of import merchant_state
from apps.compliance.views import AT_INVALID, AT_REQUIRED
from apps.core.fsm import save_tracked
from apps.merchants.choices import CheckStatus
from apps.merchants.services import bank, kyb
from tests.accounts.factories import ComplianceUserFactory
from tests.compliance.test_review import under_review
from tests.merchants.factories import MerchantPersonFactory
from tests.orders.factories import HardwareShipmentFactory, OrderFactory, PaymentFactory
from tests.routing.factories import seeded_queues

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)


def _render(state, at):
    state.at = at
    return render_to_string("compliance/_as_of_state.html", {"state": state})


def test_every_moment_of_a_journey_is_reconstructed_exactly(journey_steps):
    seeded_queues()
    reviewer = ComplianceUserFactory()
    moments = []  # (at, live snapshot, live rendering)
    merchant = None

    def step(minutes):
        return time_machine.travel(START + timedelta(minutes=minutes), tick=False)

    def snapshot():
        at = datetime.now(tz=UTC)
        live = merchant_state(merchant=merchant)
        moments.append((at, live.snapshot(), _render(live, at)))

    journey = [
        lambda: under_review(ein="12-3459999"),  # account, KYB details, submitted, in review
        lambda: kyb.merchant_kyb_review_decide(
            merchant=merchant, decision=CheckStatus.APPROVED, notes="Docs ok", actor=reviewer
        ),
        lambda: MerchantPersonFactory(merchant=merchant, owner=True, first_name="Ana"),
        lambda: _rename_first_person(merchant, "Anna", actor=reviewer),
        lambda: bank.bank_account_add(
            merchant=merchant,
            actor=merchant.user,
            account_holder_name="Acme",
            account_number="123456781",
            routing_number="021000021",
            bank_name="Chase",
        ),
        lambda: bank.bank_account_verification_start(
            bank_account=merchant.bank_accounts.get(), actor=None
        ),
        lambda: bank.bank_account_verification_succeed(
            bank_account=merchant.bank_accounts.get(), actor=None
        ),
        lambda: PaymentFactory(order=OrderFactory(merchant=merchant), amount=100),
        lambda: HardwareShipmentFactory(order=merchant.orders.get()),
        lambda: bank.bank_account_add(
            merchant=merchant,
            actor=merchant.user,
            account_holder_name="Acme",
            account_number="555566667",
            routing_number="021000021",
        ),
    ]
    with step(-5):
        before_anything = datetime.now(tz=UTC)
    for index, action in enumerate(journey):
        with step(index * 10):
            result = action()
            if merchant is None:
                merchant = result
            snapshot()
        with step(index * 10 + 5):  # between two changes
            snapshot()

    # Later, every moment again from the history tables.
    with step(24 * 60):
        for at, live, rendered in moments:
            past = merchant_state(merchant=merchant, at=at)
            assert past.snapshot() == live, at
            assert _render(past, at) == rendered, at
        first = merchant_state(merchant=merchant, at=before_anything)
        assert first.merchant is None

    # The states differ along the way (the test would prove nothing otherwise).
    assert len({repr(live) for _at, live, _r in moments}) >= len(journey)


def _rename_first_person(merchant, name, *, actor):
    person = merchant.persons.get()
    person.first_name = name
    save_tracked(person, actor=actor, reason="renamed")
    return person


def test_the_page_shows_the_state_and_the_changes_around_it(client, journey_steps):
    seeded_queues()
    with time_machine.travel(START, tick=False):
        merchant = under_review(ein="12-3459999")
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        kyb.merchant_kyb_review_decide(
            merchant=merchant,
            decision=CheckStatus.APPROVED,
            notes="Docs ok",
            actor=ComplianceUserFactory(),
        )
    client.force_login(ComplianceUserFactory())
    url = reverse("compliance:merchant_as_of", args=[merchant.pk])

    response = client.get(url, {"at": (START + timedelta(minutes=30)).isoformat()})

    assert response.status_code == 200
    state = response.context["state"]
    assert dict(state.merchant)["KYB"] == CheckStatus.REVIEW_REQUIRED
    assert state.before and state.after
    assert all(entry.at > START + timedelta(minutes=30) for entry in state.after)
    body = response.content.decode()
    assert "12-3459999" not in body
    assert "state here" in body
    # Every audit timeline entry links to its moment.
    audit = client.get(reverse("compliance:merchant_audit", args=[merchant.pk])).content.decode()
    assert audit.count("state here") >= 2
    assert f"{url}?at=" in audit


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (None, AT_REQUIRED),
        ("", AT_REQUIRED),
        ("yesterday", AT_INVALID.format(value="yesterday")),
        ("2025-02-30T10:00", AT_INVALID.format(value="2025-02-30T10:00")),
        ("2025-03-03T25:00", AT_INVALID.format(value="2025-03-03T25:00")),
        ("9999-12-31T23:59:59-23:59", AT_INVALID.format(value="9999-12-31T23:59:59-23:59")),
        ("0001-01-01T00:00:00+14:00", AT_INVALID.format(value="0001-01-01T00:00:00+14:00")),
        ("<script>", AT_INVALID.format(value="<script>")),
        ("2" * 5000, None),
    ],
)
def test_a_bad_moment_is_a_clear_400(client, at, message):
    from tests.merchants.factories import MerchantFactory

    merchant = MerchantFactory()
    client.force_login(ComplianceUserFactory())
    params = {} if at is None else {"at": at}

    response = client.get(reverse("compliance:merchant_as_of", args=[merchant.pk]), params)

    assert response.status_code == 400
    body = response.content.decode()
    assert "<script>" not in body.split("<main", 1)[1]
    if message:
        assert escape(message) in body
