import pytest
from django.contrib.auth.models import Group

from apps.accounts import roles
from tests.accounts.factories import UserFactory
from tests.routing.factories import seeded_queues


@pytest.fixture
def queues(db):
    return seeded_queues()


@pytest.fixture
def superuser(db):
    return UserFactory(is_superuser=True, is_staff=True)


@pytest.fixture
def role_users(ae_user, ic_user, compliance_user, ops_user, superuser):
    return {
        roles.AE: ae_user,
        roles.IC: ic_user,
        roles.COMPLIANCE: compliance_user,
        roles.OPS: ops_user,
        "superuser": superuser,
    }


def role_names(user) -> set[str]:
    return set(Group.objects.filter(user=user).values_list("name", flat=True))
