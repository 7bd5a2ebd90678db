import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from factory.django import DjangoModelFactory

from apps.accounts.models import User
from apps.accounts.roles import AE, COMPLIANCE, IC, MERCHANT, OPS, STAFF_ROLES

PASSWORD = "correct-horse-battery"


def _roles(*default_roles):
    """Post-generation `roles`: adds the named role groups (created by the post_migrate
    signal, so they exist in the test database). A staff role makes the user staff."""

    def add_roles(user, create, extracted, **kwargs):
        roles = default_roles if extracted is None else tuple(extracted)
        if not create or not roles:
            return
        groups = list(Group.objects.filter(name__in=roles))
        missing = set(roles) - {group.name for group in groups}
        if missing:
            raise LookupError(f"Unknown roles: {sorted(missing)}")
        user.groups.add(*groups)
        if set(roles) & set(STAFF_ROLES) and not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])

    return factory.PostGeneration(add_roles)


class UserFactory(DjangoModelFactory):
    """A user with no role; `UserFactory(roles=["ae", "ops"])` adds roles."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(PASSWORD)
    roles = _roles()


class MerchantUserFactory(UserFactory):
    """A merchant's login whose address is verified (pass email_verified_at=None for one
    that is not: KYB, payment, people and bank details wait for it)."""

    email = factory.Sequence(lambda n: f"merchant{n}@example.com")
    roles = _roles(MERCHANT)
    email_verified_at = factory.LazyFunction(timezone.now)


class AeUserFactory(UserFactory):
    email = factory.Sequence(lambda n: f"ae{n}@lightspeed.example")
    is_staff = True
    roles = _roles(AE)


class IcUserFactory(UserFactory):
    email = factory.Sequence(lambda n: f"ic{n}@lightspeed.example")
    is_staff = True
    roles = _roles(IC)


class ComplianceUserFactory(UserFactory):
    email = factory.Sequence(lambda n: f"compliance{n}@lightspeed.example")
    is_staff = True
    roles = _roles(COMPLIANCE)


class OpsUserFactory(UserFactory):
    email = factory.Sequence(lambda n: f"ops{n}@lightspeed.example")
    is_staff = True
    roles = _roles(OPS)
