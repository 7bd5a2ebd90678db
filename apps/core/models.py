import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin


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


class StateMachineMixin(ConcurrentTransitionMixin):
    """django-fsm-2's ConcurrentTransitionMixin (protected state fields, a save from a stale
    copy raises ConcurrentTransition) with a `refresh_from_db` that is safe under threads.

    django-fsm-2's own refresh_from_db switches `protected` off and on again on the field
    object the model *class* shares, so a second thread refreshing at the same moment (gunicorn
    --threads) finds it on again and raises "Direct status modification is not allowed". The
    descriptor refuses a write only when the value is already in the instance's __dict__, so
    dropping the state values being reloaded lets Django set them, with nothing shared
    touched."""

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        # The state fields are always reloaded with the rest: a row of this mixin reads them
        # as soon as it is loaded, so a copy loaded without them would load each one apart.
        protected = self._get_protected_fsm_fields()
        if fields is None:
            deferred = self.get_deferred_fields()
            reload = {f.attname for f in self._meta.concrete_fields if f.attname not in deferred}
        else:
            reload = set(fields)
        for name in protected:
            self.__dict__.pop(name, None)
        models.Model.refresh_from_db(
            self, using=using, fields=reload | protected, from_queryset=from_queryset
        )
        if fields is None:  # what Django clears on a whole refresh, which `reload` is not
            self._prefetched_objects_cache = {}
            for relation in [*self._meta.related_objects, *self._meta.private_fields]:
                if relation.is_relation and relation.is_cached(self):
                    relation.delete_cached_value(self)
        self._update_initial_state()


class RecoveryClaim(models.Model):
    """A sweep's note that it sent one stuck item (a webhook, a saga) back to work, so the
    next run leaves it alone while that work may still be queued: taken again only from
    `next_attempt_at`, later each time (apps/core/recovery.py). Deleted once the item moves."""

    kind = models.CharField(max_length=50)
    object_id = models.UUIDField()
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="recovery_claim_once"),
        ]

    def __str__(self):
        return f"{self.kind}:{self.object_id} ({self.attempts})"


class RecoveryRun(models.Model):
    """One run of a recovery sweep: scheduled, or asked for by an ops user from the console
    ("retry now"). Append-only: the record of who sent what back to work, and when."""

    kind = models.CharField(max_length=50)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: the schedule.",
    )
    stuck = models.PositiveIntegerField(default=0, help_text="Stuck when the run started.")
    recovered = models.PositiveIntegerField(default=0, help_text="Sent back to work.")
    ran_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-ran_at"]
        indexes = [models.Index(fields=["kind", "-ran_at"], name="recovery_run_by_kind")]

    def __str__(self):
        who = self.requested_by or "schedule"
        return f"{self.kind} by {who}: {self.recovered}/{self.stuck}"
