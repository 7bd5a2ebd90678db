"""{% id_url %}: the same URL as {% url %} for a route taking one UUID, cheaper in a loop."""

import uuid

import pytest
from django.template import Context, Template
from django.urls import NoReverseMatch, reverse

from apps.core.templatetags.id_urls import id_url

ID = uuid.UUID("5f0c6c1e-8d2b-4c8e-9a51-2b7f3c4d5e6f")


@pytest.mark.parametrize(
    "name",
    ["progress:alert_claim", "progress:alert_dismiss", "staff:merchant", "leads:staff_lead_detail"],
)
def test_it_gives_what_url_gives(name):
    assert id_url(name, ID) == reverse(name, args=[ID])
    assert id_url(name, str(ID)) == reverse(name, args=[ID])


def test_in_a_template_with_as():
    template = Template(
        "{% load id_urls %}{% id_url 'staff:merchant' merchant_id as hub %}<a href=\"{{ hub }}\">"
    )

    assert template.render(Context({"merchant_id": ID})) == f'<a href="/staff/merchants/{ID}/">'


def test_an_id_that_is_not_a_uuid_is_refused_as_the_route_would():
    with pytest.raises(ValueError):
        id_url("staff:merchant", "../../admin")


def test_a_route_without_an_id_is_refused():
    with pytest.raises(NoReverseMatch):  # the route takes no argument
        id_url("progress:alert_inbox", ID)
