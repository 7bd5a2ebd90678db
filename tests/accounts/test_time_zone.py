"""Times on staff pages in the staff member's zone (issue 14, item 7)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apps.accounts.forms import TIME_ZONE_UNKNOWN
from apps.core.templatetags.times import age_text, when_text
from tests.leads.factories import LeadFactory

PREFS = "/accounts/preferences/"
MOMENT = datetime(2026, 7, 1, 12, 5, 30, tzinfo=UTC)


def test_the_preferences_url():
    assert reverse("accounts:preferences") == PREFS


def test_when_is_labelled_to_the_minute_in_the_active_zone():
    with timezone.override("America/New_York"):
        assert when_text(MOMENT) == "2026-07-01 08:05 EDT"
    with timezone.override("Europe/Paris"):
        html = Template("{% load times %}{{ t|when }}").render(Context({"t": MOMENT}))
    assert html == '<time datetime="2026-07-01T12:05:30+00:00">2026-07-01 14:05 CEST</time>'


def test_when_follows_daylight_saving():
    winter = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    with timezone.override("Europe/Paris"):
        assert when_text(winter) == "2026-01-15 13:00 CET"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=25), "25 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(hours=3, minutes=20), "3 h 20 min ago"),
        (timedelta(days=3, hours=4), "3 d 4 h ago"),
        (-timedelta(minutes=40), "in 40 min"),
    ],
)
def test_ages_read_like_people_say_them(delta, text):
    assert age_text(MOMENT - delta, now=MOMENT) == text


def test_empty_values_show_a_dash():
    html = Template(
        "{% load times %}{{ t|when }} {{ t|ago }} {{ t|when_ago }} {{ t|ago_titled }}"
    ).render(Context({"t": None}))
    assert html == "— — — —"


def test_a_column_of_ages_keeps_the_full_time_on_hover():
    template = Template("{% load times %}{{ t|ago_titled }} {{ t|ago_titled:words }}")
    later = MOMENT + timedelta(hours=3)
    with time_machine.travel(later, tick=False), timezone.override("Europe/Paris"):
        html = template.render(Context({"t": MOMENT, "words": "3 h <b>"}))
    element = '<time datetime="2026-07-01T12:05:30+00:00" title="2026-07-01 14:05 CEST">{}</time>'
    assert html == f"{element.format('3 h ago')} {element.format('3 h &lt;b&gt;')}"


def test_the_bare_text_fits_a_title():
    template = Template("{% load times %}<title>as of {{ t|when_text }}</title>{{ n|when_text }}")
    with timezone.override("Asia/Tokyo"):
        html = template.render(Context({"t": MOMENT, "n": None}))
    assert html == "<title>as of 2026-07-01 21:05 JST</title>"


def test_staff_see_times_in_their_own_zone(client, ic_user):
    lead = LeadFactory()
    ic_user.time_zone = "Asia/Kolkata"
    ic_user.save(update_fields=["time_zone"])
    client.force_login(ic_user)
    page = client.get(reverse("leads:staff_lead_detail", args=[lead.pk])).text
    assert " IST</time>" in page


def test_staff_without_a_zone_see_the_portals(client, ic_user, settings):
    lead = LeadFactory()
    client.force_login(ic_user)
    page = client.get(reverse("leads:staff_lead_detail", args=[lead.pk])).text
    assert (
        f"{timezone.localtime(lead.created_at, timezone.get_default_timezone()):%Y-%m-%d %H:%M}"
        in page
    )
    assert " UTC</time>" in page


def test_a_staff_member_sets_their_zone(client, ae_user):
    client.force_login(ae_user)
    assert client.get(PREFS).status_code == 200
    response = client.post(PREFS, {"time_zone": "Europe/Paris"})
    assert response.status_code == 302
    ae_user.refresh_from_db()
    assert ae_user.time_zone == "Europe/Paris"
    assert "Europe/Paris" in client.get(reverse("staff:home")).text


@pytest.mark.parametrize("value", ["Mars/Olympus", "<script>", "x" * 100, "../../etc/passwd"])
def test_an_unknown_zone_is_refused_and_nothing_changes(client, ae_user, value):
    client.force_login(ae_user)
    response = client.post(PREFS, {"time_zone": value})
    assert response.status_code == 400
    assert escape(TIME_ZONE_UNKNOWN) in response.text or "at most 64" in response.text
    ae_user.refresh_from_db()
    assert ae_user.time_zone == ""


def test_a_nul_in_the_zone_is_refused(client, ae_user):
    client.force_login(ae_user)
    assert client.post(PREFS, {"time_zone": "UTC\x00"}).status_code == 400


def test_merchants_have_no_staff_preferences(client, merchant_user):
    client.force_login(merchant_user)
    assert client.get(PREFS).status_code == 403


def test_anonymous_visitors_sign_in_first(client):
    assert client.get(PREFS)["Location"].startswith(reverse("accounts:login"))
