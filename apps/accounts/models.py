import uuid
import zoneinfo
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    """The IANA zone names this machine knows (read once per process)."""
    return frozenset(zoneinfo.available_timezones())


def time_zone_valid(name: str) -> bool:
    """True for an IANA zone name this machine knows ("Europe/Paris", "UTC")."""
    return bool(name) and name in time_zone_names()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser needs is_staff and is_superuser.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who signs in: merchants and staff. The email address is the login."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Can sign in to the admin site (AE, IC, compliance, ops)."
    )
    is_active = models.BooleanField(default=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Routing: agents take queue items up to this many open ones at a time.
    max_open_assignments = models.PositiveIntegerField(default=25)
    date_joined = models.DateTimeField(default=timezone.now)
    # Staff pages show times in this zone (IANA name); empty means the portal's TIME_ZONE.
    time_zone = models.CharField(
        "time zone",
        max_length=64,
        blank=True,
        help_text="Times on staff pages are shown in this zone; empty: the portal's.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        permissions = [("view_ops_dashboard", "Can see the ops dashboards")]

    def __str__(self):
        return self.email

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self):
        return self.first_name or self.email

    def time_zone_name(self) -> str:
        """The zone staff pages use for this user: their own if valid, else the portal's."""
        return self.time_zone if time_zone_valid(self.time_zone) else settings.TIME_ZONE

    @cached_property
    def role_names(self) -> frozenset[str]:
        """The names of the user's roles (groups), read once per user object (prefetched
        groups when the caller loaded them). A request's user is loaded once per request, so
        the page's role check, the navigation and any `has_role` share one query."""
        return frozenset(group.name for group in self.groups.all())

    def has_role(self, role: str) -> bool:
        return role in self.role_names
