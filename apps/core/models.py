import uuid

from django.db import models
from django.utils import timezone


class BaseModel(models.Model):
    """UUID primary key and timezone-aware creation/update stamps for every domain table."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def choices_check(field: str, choices, *, name: str, nullable: bool = False):
    """A CHECK constraint limiting `field` to the values of a TextChoices class."""
    condition = models.Q(**{f"{field}__in": list(choices.values)})
    if nullable:
        condition |= models.Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(condition=condition, name=name)
