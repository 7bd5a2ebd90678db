"""Every staff page shows its times in the viewer's zone, labelled, to the minute (issue 14,
item 7): a staff member who chose Asia/Tokyo reads "2026-12-04 21:48 JST", one who chose
nothing reads the portal's zone, and nobody reads the bare UTC text. Each page is requested
three hours after its object was made, at pinned instants, so the ages are known too."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
import time_machine
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from apps.core.models import RecoveryRun
from apps.integrations import recovery
from apps.integrations.models import SyncStatus, WebhookStatus
from apps.orders.models.saga_step import SagaStepStatus
from apps.progress import ops_figures
from apps.progress.services import alert_note_add
from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    OpsUserFactory,
)
from tests.compliance.factories import (
    AccessAlertFactory,
    DataAccessAuditLogFactory,
    RetentionRunFactory,
)
from tests.compliance.test_review import under_review
from tests.integrations.factories import (
    ExternalSystemSyncFactory,
    IntegrationEventFactory,
    WebhookEventFactory,
)
from tests.merchants.factories import MerchantFactory
from tests.orders.factories import (
    HardwareShipmentFactory,
    OrderFactory,
    PaymentFactory,
    SagaStepFactory,
)
from tests.progress.factories import StallAlertFactory
from tests.routing.factories import (
    AssignmentNoteFactory,
    QueueAssignmentFactory,
    seeded_queues,
)

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 4, 12, 48, tzinfo=UTC)  # when each page's object happened
HALF_HOUR = timedelta(minutes=30)
LATER = AT + timedelta(hours=3)  # when the page is read
UTC_TEXT = "2026-12-04 12:48"  # AT as a page that ignored the viewer's zone would print it


@dataclass(frozen=True)
class Zone:
    user_zone: str  # the staff member's preference ("" = none)
    portal_zone: str  # settings.TIME_ZONE
    at: str  # AT as the viewer must read it
    at_half_hour: str  # AT + 30 min
    at_hour: str  # AT + 1 h
    later: str  # LATER


ZONES = {
    "own-zone": Zone(
        "Asia/Tokyo",
        "UTC",
        at="2026-12-04 21:48 JST",
        at_half_hour="2026-12-04 22:18 JST",
        at_hour="2026-12-04 22:48 JST",
        later="2026-12-05 00:48 JST",
    ),
    "portal-zone": Zone(
        "",
        "Europe/Paris",
        at="2026-12-04 13:48 CET",
        at_half_hour="2026-12-04 14:18 CET",
        at_hour="2026-12-04 14:48 CET",
        later="2026-12-04 16:48 CET",
    ),
}


@pytest.fixture(params=list(ZONES), ids=list(ZONES))
def zone(request, settings) -> Zone:
    zone = ZONES[request.param]
    settings.TIME_ZONE = zone.portal_zone
    return zone


@pytest.fixture
def sign_in(client, zone):
    """sign_in(OpsUserFactory) → that staff member, signed in, with the zone's preference."""

    def sign_in(make_user):
        user = make_user(time_zone=zone.user_zone)
        client.force_login(user)
        return user

    return sign_in


def created_at(moment):
    return time_machine.travel(moment, tick=False)


def read(client, url, **params) -> str:
    with created_at(LATER):
        response = client.get(url, params)
    assert response.status_code == 200
    return response.text


def time_html(moment: datetime, text: str) -> str:
    """What `|when` prints: the machine value in UTC, the text in the viewer's zone."""
    return f'<time datetime="{moment.isoformat()}">{text}</time>'


def row(page: str, dom_id: str) -> str:
    start = page.index(f'<tr id="{dom_id}"')
    return page[start : page.index("</tr>", start)]


def assert_no_utc_text(page: str) -> None:
    assert UTC_TEXT not in page


# --- routing ----------------------------------------------------------------------------------


def queued_item(**extra):
    with created_at(AT):
        return QueueAssignmentFactory(
            queue=seeded_queues()["ae_standard"], queued_at=AT, sla_due_at=AT + HALF_HOUR, **extra
        )


def test_the_queue_page_shows_each_wait_with_its_start_on_hover_and_when_it_refreshed(
    client, sign_in, zone
):
    item = queued_item()
    sign_in(AeUserFactory)

    page = read(client, reverse("routing:queue_detail", args=["ae_standard"]))

    waiting = f'<time datetime="{AT.isoformat()}" title="{zone.at}">3 h</time>'
    assert waiting in row(page, f"item-{item.pk}")
    assert f"refreshed {time_html(LATER, zone.later)}" in page
    assert_no_utc_text(page)


def test_the_queue_item_page_shows_when_it_was_queued_due_and_noted(client, sign_in, zone):
    item = queued_item()
    with created_at(AT):
        AssignmentNoteFactory(assignment=item, body="Called, voicemail.")
    sign_in(AeUserFactory)

    page = read(client, reverse("routing:item_detail", args=["ae_standard", item.pk]))

    assert f"<dt>Queued</dt><dd>{time_html(AT, zone.at)} (3 h ago)</dd>" in page
    assert f"· due {time_html(AT + HALF_HOUR, zone.at_half_hour)}</dd>" in page
    assert f"<small>{time_html(AT, zone.at)} · " in page  # the note
    assert_no_utc_text(page)


# --- progress ---------------------------------------------------------------------------------


def test_the_alert_inbox_shows_last_activity_detection_and_notes_in_the_zone(client, sign_in, zone):
    viewer = sign_in(IcUserFactory)
    merchant = MerchantFactory(current_step=3)
    with created_at(AT):
        alert = StallAlertFactory(
            merchant=merchant, last_activity_at=AT, stall_detected_at=AT + HALF_HOUR
        )
        alert_note_add(alert=alert, actor=viewer, body="Left a message.")

    page = read(client, reverse("progress:alert_inbox"))

    assert f"Last activity</th><td>{time_html(AT, zone.at)} <small>(3 h ago)</small>" in page
    detected = time_html(AT + HALF_HOUR, zone.at_half_hour)
    assert f"Detected</th><td>{detected} <small>(2 h 30 min ago)</small>" in page
    assert f"{viewer.email}, {time_html(AT, zone.at)}</small>" in page
    assert_no_utc_text(page)


def test_the_ops_dashboard_says_as_of_when_its_figures_are(client, sign_in, zone, journey_steps):
    with created_at(AT):
        ops_figures.ops_figures_refresh()
    sign_in(OpsUserFactory)

    page = read(client, reverse("progress:ops_dashboard"))

    assert f"Figures as of {time_html(AT, zone.at)} <small>(3 h ago)</small>," in page
    assert_no_utc_text(page)


# --- integrations -----------------------------------------------------------------------------


def test_the_integrations_console_shows_every_time_in_the_zone(client, sign_in, zone):
    with created_at(AT):
        sync = ExternalSystemSyncFactory(
            sync_status=SyncStatus.FAILED,
            last_error="CRM answered 503",
            last_error_at=AT,
            next_retry_at=AT + HALF_HOUR,
        )
        event = IntegrationEventFactory(occurred_at=AT, publish_attempts=4)
        rejected = WebhookEventFactory(
            status=WebhookStatus.REJECTED, signature_valid=False, received_at=AT
        )
        waiting = WebhookEventFactory(event_type="test.nobody_handles_it", received_at=AT)
        RecoveryRun.objects.create(kind=recovery.WEBHOOKS, ran_at=AT, recovered=0)
    sign_in(OpsUserFactory)

    page = read(client, reverse("integrations:ops_console"))

    stuck = row(page, f"stuck-{recovery.WEBHOOKS}")
    assert f'<time datetime="{AT.isoformat()}" title="{zone.at}">3 h ago</time>' in stuck
    assert f"{time_html(AT, zone.at)} by the schedule" in stuck
    synced = row(page, f"sync-{sync.pk}")
    assert time_html(AT + HALF_HOUR, zone.at_half_hour) in synced  # next retry
    assert f"<small>{time_html(AT, zone.at)}</small>" in synced  # last error
    assert time_html(AT, zone.at) in row(page, f"event-{event.pk}")
    assert time_html(AT, zone.at) in row(page, f"webhook-{rejected.pk}")
    assert time_html(AT, zone.at) in row(page, f"webhook-{waiting.pk}")
    assert_no_utc_text(page)


# --- orders -----------------------------------------------------------------------------------


def test_the_staff_order_list_shows_when_each_order_was_created(client, sign_in, zone):
    with created_at(AT):
        order = OrderFactory()
    sign_in(AeUserFactory)

    page = read(client, reverse("orders:staff_order_list"))

    assert f"<td>{time_html(AT, zone.at)}</td>" in row(page, f"order-{order.order_number}")
    assert_no_utc_text(page)


def test_the_staff_order_page_shows_creation_payments_retries_and_deliveries(client, sign_in, zone):
    with created_at(AT):
        order = OrderFactory()
        PaymentFactory(order=order)
        shipment = HardwareShipmentFactory(order=order, delivered_at=AT)
        SagaStepFactory(order=order, status=SagaStepStatus.FAILED, next_retry_at=AT + HALF_HOUR)
    sign_in(OpsUserFactory)

    page = read(client, reverse("orders:staff_order_detail", args=[order.order_number]))

    assert f"· created {time_html(AT, zone.at)}</p>" in page
    assert f"<tr><td>{time_html(AT, zone.at)}</td><td>$1299.00</td>" in page  # the payment
    assert f"(retrying at {time_html(AT + HALF_HOUR, zone.at_half_hour)})" in page
    assert f"<td>{time_html(AT, zone.at)}</td>" in row(page, f"shipment-{shipment.pk}")
    assert_no_utc_text(page)


# --- compliance -------------------------------------------------------------------------------


@pytest.fixture
def merchant_in_review(journey_steps):
    seeded_queues()
    with created_at(AT):
        return under_review()


def test_the_review_list_shows_how_long_each_case_waits_with_its_start_on_hover(
    client, sign_in, zone, merchant_in_review
):
    sign_in(ComplianceUserFactory)

    page = read(client, reverse("compliance:review"))

    assert f'<time datetime="{AT.isoformat()}" title="{zone.at}">3 h ago</time>' in page
    assert_no_utc_text(page)


def test_a_case_shows_its_submission_decisions_and_history_in_the_zone(
    client, sign_in, zone, merchant_in_review
):
    sign_in(ComplianceUserFactory)

    page = read(client, reverse("compliance:case", args=["kyb", merchant_in_review.pk]))

    at = time_html(AT, zone.at)
    assert f"<dt>Submitted</dt><dd>{at} <small>(3 h ago)</small></dd>" in page
    assert f"· {at}</p>" in page  # what the provider returned, when
    assert page.count(f"<tr><td>{at}</td>") >= 2  # the decision and the changes
    assert_no_utc_text(page)


def test_the_access_log_shows_when_each_access_happened(client, sign_in, zone):
    DataAccessAuditLogFactory(accessed_at=AT)
    sign_in(ComplianceUserFactory)

    page = read(client, reverse("compliance:access_log"))

    assert f"<td>{time_html(AT, zone.at)}</td>" in page
    assert_no_utc_text(page)


def test_compliance_operations_show_alerts_and_retention_runs_in_the_zone(client, sign_in, zone):
    AccessAlertFactory(raised_at=AT)
    RetentionRunFactory(started_at=AT, finished_at=AT + HALF_HOUR)
    sign_in(OpsUserFactory)

    page = read(client, reverse("compliance:operations"))

    assert page.count(f"<td>{time_html(AT, zone.at)}") == 2  # the alert, the run's start
    assert f"<td>{time_html(AT + HALF_HOUR, zone.at_half_hour)}</td>" in page  # its end
    assert_no_utc_text(page)


def test_the_state_as_of_a_moment_reads_in_the_zone_and_its_links_stay_machine_values(
    client, sign_in, zone, merchant_in_review
):
    sign_in(ComplianceUserFactory)
    moment = AT + timedelta(hours=1)
    url = reverse("compliance:merchant_as_of", args=[merchant_in_review.pk])

    page = read(client, url, at=moment.isoformat())

    assert f"as of {zone.at_hour}</title>" in page
    assert f"As of {time_html(moment, zone.at_hour)}." in page
    assert f"<td>{time_html(AT, zone.at)} <a " in page  # a change just before
    state = page[page.index('id="as-of-state"') : page.index("</section>")]
    assert time_html(AT, zone.at) in state  # a time in the state: when a step started
    # What a browser sends back is still ISO 8601, naming the very same instants.
    links = re.findall(r'\?at=([^"]+)">state here</a>', page)
    assert links and {parse_datetime(unquote(link)) for link in links} == {AT}
    typed = re.search(r'<input type="text" name="at" value="([^"]+)"', page).group(1)
    assert parse_datetime(typed) == moment
    assert_no_utc_text(page)
