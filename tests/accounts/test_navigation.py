import pytest
from django.urls import reverse

from tests.accounts.factories import (
    AeUserFactory,
    ComplianceUserFactory,
    IcUserFactory,
    OpsUserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("factory", "shown", "hidden"),
    [
        (AeUserFactory, ["Queues", "Leads", "Alerts"], ["Compliance", "Ops", "Integrations"]),
        (IcUserFactory, ["Queues", "Alerts"], ["Compliance", "Ops"]),
        (ComplianceUserFactory, ["Compliance", "Leads"], ["Queues", "Ops", "Integrations"]),
        (OpsUserFactory, ["Queues", "Ops", "Integrations", "Alerts"], ["Compliance"]),
    ],
)
def test_each_role_sees_the_links_to_its_pages(client, factory, shown, hidden):
    client.force_login(factory())
    response = client.get(reverse("accounts:home"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("staff:home")
    labels = [link["label"] for link in response.context["nav_links"]]
    assert labels[0] == "Home"
    assert set(shown) <= set(labels)
    assert not set(hidden) & set(labels)


def test_anonymous_visitors_are_offered_get_started_and_sign_in(client):
    response = client.get(reverse("accounts:login"))
    assert reverse("leads:get_started") in response.text
    assert response.context["nav_links"] == []
