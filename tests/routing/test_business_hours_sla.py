"""Business-hours SLA clocks (issue 14 item 6): a queue that follows a BusinessCalendar counts
its SLA in working time (weekends, holidays and nights do not count, wall hours follow DST);
the deadline, the 75% warning, the breach sweep and "% met" all use it; a queue without a
calendar keeps the 24/7 clock. Ops edit calendars in the admin."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from apps.routing import calendars, selectors
from apps.routing.models import BusinessCalendar, BusinessHoliday, BusinessHours
from apps.routing.services import routing
from apps.routing.tasks import sla_sweep
from tests.leads.factories import LeadFactory
from tests.routing.factories import RoutingQueueFactory

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def calendar(db):
    """New York, Monday to Friday 09:00-18:00."""
    cal = BusinessCalendar.objects.create(name="US office", time_zone="America/New_York")
    for weekday in range(5):
        BusinessHours.objects.create(
            calendar=cal, weekday=weekday, opens_at=time(9), closes_at=time(18)
        )
    return cal


@pytest.fixture
def queue(calendar):
    return RoutingQueueFactory(sla_minutes=60, auto_assign=False, business_calendar=calendar)


def enqueue_at(queue, moment):
    with time_machine.travel(moment, tick=False):
        return routing.assignment_enqueue(queue=queue, lead=LeadFactory())


# --- deadlines ------------------------------------------------------------------------------


def test_a_lead_queued_friday_1755_with_a_60_minute_sla_is_due_monday_0955(queue):
    item = enqueue_at(queue, ny(2026, 3, 13, 17, 55))  # a Friday

    assert item.sla_due_at == ny(2026, 3, 16, 9, 55)
    # 75% = 45 working minutes: 5 on Friday, 40 on Monday.
    assert item.sla_warn_at == ny(2026, 3, 16, 9, 40)


def test_a_queue_without_a_calendar_keeps_the_24_7_clock(calendar):
    queue = RoutingQueueFactory(sla_minutes=60, auto_assign=False)

    item = enqueue_at(queue, ny(2026, 3, 13, 17, 55))

    assert item.sla_due_at == ny(2026, 3, 13, 18, 55)
    assert item.sla_warn_at == ny(2026, 3, 13, 18, 40)


def test_a_holiday_does_not_count(queue, calendar):
    BusinessHoliday.objects.create(calendar=calendar, date=date(2026, 3, 16), name="Closed")

    item = enqueue_at(queue, ny(2026, 3, 13, 17, 55))

    assert item.sla_due_at == ny(2026, 3, 17, 9, 55)  # Tuesday


def test_queued_at_night_the_clock_starts_at_opening(queue):
    item = enqueue_at(queue, ny(2026, 3, 17, 22, 30))  # Tuesday night

    assert item.sla_due_at == ny(2026, 3, 18, 10, 0)


def test_a_deadline_at_closing_time_stays_on_that_day(queue):
    item = enqueue_at(queue, ny(2026, 3, 17, 17, 0))

    assert item.sla_due_at == ny(2026, 3, 17, 18, 0)


def test_working_hours_are_local_wall_hours_across_a_dst_change(queue):
    """US clocks go forward on Sunday 2026-03-08: Friday 17:55 EST (22:55 UTC) is due Monday
    09:55 EDT (13:55 UTC), not 14:55 UTC as adding in UTC would give."""
    item = enqueue_at(queue, ny(2026, 3, 6, 17, 55))

    assert item.sla_due_at == datetime(2026, 3, 9, 13, 55, tzinfo=UTC)
    assert item.sla_due_at.astimezone(NY).strftime("%a %H:%M") == "Mon 09:55"


def test_an_interval_spanning_the_dst_change_is_as_long_as_the_clocks_say():
    """Sunday 2026-03-08 01:00-05:00 New York is three real hours (02:00 does not exist)."""
    hours = {6: [(time(1), time(5))], 0: [(time(9), time(18))]}

    due = calendars.working_time_add(
        ny(2026, 3, 8, 1, 0), timedelta(hours=4), time_zone="America/New_York", hours=hours
    )

    assert due == ny(2026, 3, 9, 10, 0)  # 3 h on Sunday night, 1 h on Monday
    assert calendars.working_time_between(
        ny(2026, 3, 8, 1, 0), ny(2026, 3, 8, 5, 0), time_zone="America/New_York", hours=hours
    ) == timedelta(hours=3)


def test_an_interval_closing_at_midnight_runs_to_the_end_of_the_day():
    hours = {0: [(time(20), time(0))], 1: [(time(9), time(17))]}

    due = calendars.working_time_add(
        ny(2026, 3, 16, 23, 0), timedelta(hours=2), time_zone="America/New_York", hours=hours
    )

    assert due == ny(2026, 3, 17, 10, 0)


def test_a_calendar_without_working_hours_falls_back_to_24_7():
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)

    warn, due = calendars.sla_deadlines(start, 60, time_zone="America/New_York", hours={})

    assert (warn, due) == (start + timedelta(minutes=45), start + timedelta(minutes=60))


# --- the clock, the sweep and % met use it ---------------------------------------------------


def test_due_soon_and_the_breach_follow_business_time(queue):
    item = enqueue_at(queue, ny(2026, 3, 13, 17, 55))

    # Saturday noon: 5 working minutes used, not due soon, not breached.
    assert selectors.sla_clock(item, ny(2026, 3, 14, 12, 0)).state == "running"
    with time_machine.travel(ny(2026, 3, 14, 12, 0), tick=False):
        assert sla_sweep() == 0
    assert selectors.sla_clock(item, ny(2026, 3, 16, 9, 40)).state == "due_soon"
    with time_machine.travel(ny(2026, 3, 16, 9, 55), tick=False):
        assert sla_sweep() == 0  # exactly at the deadline: on time
    with time_machine.travel(ny(2026, 3, 16, 9, 55, 1), tick=False):
        assert sla_sweep() == 1

    item.refresh_from_db()
    assert item.sla_breached is True
    assert "not contacted within 60 minutes of business hours" in (
        item.history.first().history_change_reason
    )


def test_the_countdown_counts_working_time_left(queue, calendar):
    item = enqueue_at(queue, ny(2026, 3, 13, 17, 55))

    # Friday 17:58: 2 working minutes today, 55 on Monday; 64 wall hours.
    clock = selectors.sla_clock(item, ny(2026, 3, 13, 17, 58), calendar)
    assert clock.label == "Due in 57 min of business hours"
    # Sunday: the weekend does not count.
    assert selectors.sla_clock(item, ny(2026, 3, 15, 23, 0), calendar).label == (
        "Due in 55 min of business hours"
    )
    # The same item read as if around the clock: the wall time to Monday.
    assert selectors.sla_clock(item, ny(2026, 3, 13, 17, 58)).label == "Due in 2 d 15 h"


def test_the_countdown_skips_a_holiday_and_follows_a_dst_change(queue, calendar):
    BusinessHoliday.objects.create(calendar=calendar, date=date(2026, 3, 9), name="Closed")
    item = enqueue_at(queue, ny(2026, 3, 6, 17, 30))  # Friday before the DST Sunday, 8 March

    assert item.sla_due_at == ny(2026, 3, 10, 9, 30)  # Monday is the holiday: Tuesday
    # Saturday 7 March, EST: 30 working minutes were used on Friday, 30 are left.
    assert selectors.sla_clock(item, ny(2026, 3, 7, 12, 0), calendar).label == (
        "Due in 30 min of business hours"
    )
    # Tuesday 09:10, now EDT: the clocks moved, the working minutes did not.
    assert selectors.sla_clock(item, ny(2026, 3, 10, 9, 10), calendar).label == (
        "Due in 20 min of business hours"
    )


def test_a_breach_says_how_long_ago_in_wall_time(queue, calendar):
    item = enqueue_at(queue, ny(2026, 3, 13, 17, 55))

    clock = selectors.sla_clock(item, ny(2026, 3, 16, 11, 0), calendar)

    assert (clock.state, clock.label) == ("overdue", "Breached 1 h 5 min ago")


def test_queue_pages_show_the_business_countdown_in_constant_queries(
    client, queue, ae_user
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    enqueue_at(queue, ny(2026, 3, 13, 17, 55))
    client.force_login(ae_user)
    url = reverse("routing:queue_detail", args=[queue.code])

    with time_machine.travel(ny(2026, 3, 13, 17, 58), tick=False):
        client.get(url)  # the session and per-process caches warm up
        with CaptureQueriesContext(connection) as one:
            response = client.get(url)
        assert response.status_code == 200
        assert "Due in 57 min of business hours" in response.content.decode()
        for _ in range(20):
            enqueue_at(queue, ny(2026, 3, 13, 17, 56))
        with CaptureQueriesContext(connection) as many:
            assert client.get(url).status_code == 200

    assert len(many) == len(one)


def test_percent_met_counts_against_the_business_deadline(queue, ae_user):
    from apps.routing.services import assignments, claims

    item = enqueue_at(queue, ny(2026, 3, 13, 17, 55))
    claims.assignment_assign(assignment=item, agent=ae_user, actor=ae_user)
    with time_machine.travel(ny(2026, 3, 16, 9, 30), tick=False):  # 35 working minutes
        assignments.assignment_record_contact(assignment=item, actor=ae_user)

    stats = selectors.queue_sla_stats([queue], ny(2026, 3, 16, 12, 0))

    assert stats[queue.pk].percent == 100


def test_items_queued_before_sla_warn_at_existed_warn_at_75_percent_of_wall_time(queue):
    item = enqueue_at(queue, ny(2026, 3, 17, 9, 0))
    item.sla_warn_at = None

    assert item.sla_due_soon_from == ny(2026, 3, 17, 9, 45)


# --- ops edit calendars in the admin ---------------------------------------------------------


def test_ops_add_a_calendar_with_hours_and_a_holiday_in_the_admin(client, ops_user):
    client.force_login(ops_user)
    url = reverse("admin:routing_businesscalendar_add")
    form = {
        "name": "London",
        "time_zone": "Europe/London",
        "hours-TOTAL_FORMS": "1",
        "hours-INITIAL_FORMS": "0",
        "hours-0-weekday": "0",
        "hours-0-opens_at": "09:00",
        "hours-0-closes_at": "17:30",
        "holidays-TOTAL_FORMS": "1",
        "holidays-INITIAL_FORMS": "0",
        "holidays-0-date": "2026-12-25",
        "holidays-0-name": "Christmas Day",
    }

    response = client.post(url, form)

    assert response.status_code == 302, response.content[:2000]
    calendar = BusinessCalendar.objects.get(name="London")
    assert calendar.hours.get().closes_at == time(17, 30)
    assert calendar.holidays.get().name == "Christmas Day"


@pytest.mark.parametrize(
    ("field", "value"),
    [("time_zone", "Mars/Olympus"), ("time_zone", "<b>x</b>"), ("name", "x" * 500)],
)
def test_the_admin_refuses_a_bad_calendar_with_a_message(client, ops_user, field, value):
    client.force_login(ops_user)
    form = {
        "name": "Bad",
        "time_zone": "UTC",
        "hours-TOTAL_FORMS": "0",
        "hours-INITIAL_FORMS": "0",
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
        field: value,
    }

    response = client.post(reverse("admin:routing_businesscalendar_add"), form)

    assert response.status_code == 200  # the form again, with its error
    assert b"errorlist" in response.content
    assert not BusinessCalendar.objects.exists()


def test_closing_before_opening_is_refused(client, ops_user):
    client.force_login(ops_user)
    form = {
        "name": "Backwards",
        "time_zone": "UTC",
        "hours-TOTAL_FORMS": "1",
        "hours-INITIAL_FORMS": "0",
        "hours-0-weekday": "0",
        "hours-0-opens_at": "18:00",
        "hours-0-closes_at": "09:00",
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
    }

    response = client.post(reverse("admin:routing_businesscalendar_add"), form)

    assert response.status_code == 200
    assert not BusinessCalendar.objects.exists()


@pytest.mark.parametrize(
    ("role_user", "allowed"),
    [("ops_user", True), ("ae_user", False), ("ic_user", False), ("compliance_user", False)],
)
def test_only_ops_may_open_the_calendars_in_the_admin(client, request, role_user, allowed):
    client.force_login(request.getfixturevalue(role_user))

    response = client.get(reverse("admin:routing_businesscalendar_add"))

    assert (response.status_code == 200) is allowed
    assert response.status_code in (200, 302, 403)
