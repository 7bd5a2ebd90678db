import pytest
from django.contrib.auth.models import Group

from apps.accounts import roles
from apps.accounts.models import User
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _codes(group_name):
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


@pytest.mark.parametrize("role", roles.ROLES)
def test_each_role_group_holds_exactly_its_permissions(role):
    assert _codes(role) == set(roles.ROLE_PERMISSIONS[role])


def test_merchants_hold_no_model_permission():
    assert _codes(roles.MERCHANT) == set()


@pytest.mark.parametrize(
    ("permission", "holders"),
    [
        ("merchants.decide_kyb", {roles.COMPLIANCE}),
        ("merchants.reveal_pii", {roles.COMPLIANCE}),
        ("leads.override_cohort", {roles.AE}),
        ("routing.work_queue", {roles.AE, roles.IC, roles.COMPLIANCE}),
        ("integrations.retry_sync", {roles.OPS}),
        ("accounts.view_ops_dashboard", {roles.OPS}),
        ("routing.change_cohortrule", {roles.OPS}),
        ("axes.delete_accessattempt", {roles.OPS}),
    ],
)
def test_sensitive_permissions_belong_only_to_their_roles(permission, holders):
    assert {role for role in roles.ROLES if permission in _codes(role)} == holders


def test_roles_sync_is_idempotent():
    before = {role: _codes(role) for role in roles.ROLES}
    roles.roles_sync()
    assert {role: _codes(role) for role in roles.ROLES} == before
    assert Group.objects.filter(name__in=roles.ROLES).count() == len(roles.ROLES)


def test_a_user_gets_the_permissions_of_their_role():
    user = UserFactory(roles=[roles.AE])
    user = User.objects.get(pk=user.pk)  # fresh permission cache
    assert user.has_perm("leads.override_cohort")
    assert not user.has_perm("merchants.decide_kyb")


def test_emails_are_stored_lowercase_and_required():
    user = User.objects.create_user("Owner@Acme.TEST", "pw-123456789")
    assert user.email == "owner@acme.test"
    with pytest.raises(ValueError, match="email address is required"):
        User.objects.create_user("", "pw")


def test_create_superuser_makes_a_staff_superuser():
    admin = User.objects.create_superuser("root@acme.test", "pw-123456789")
    assert admin.is_staff and admin.is_superuser
