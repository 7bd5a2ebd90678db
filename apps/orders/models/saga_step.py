"""The record of the purchase-and-provision saga: one SagaStep row per step of an order
(pending → running → done | failed → running ... | compensated). apps.orders.saga runs them."""

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from apps.core.models import BaseModel, StateMachineMixin, choices_check
from apps.orders.models.order import Order


class SagaStepStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    COMPENSATED = "compensated", "Undone"


class SagaStep(StateMachineMixin, BaseModel):
    """One step of an order's purchase-and-provision saga (apps.orders.saga): what ran, how
    often, what it returned and how it ended. A done step is never run again, so the saga
    resumes after a crash from the first step that is not done."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="saga_steps")
    name = models.CharField(max_length=50)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order of display.")
    status = FSMField(
        max_length=20,
        choices=SagaStepStatus.choices,
        default=SagaStepStatus.PENDING,
        protected=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while a failed attempt waits for its retry."
    )
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "position", "created_at"]
        constraints = [
            choices_check("status", SagaStepStatus, name="sagastep_valid_status"),
            models.UniqueConstraint(fields=["order", "name"], name="sagastep_once_per_order"),
        ]
        indexes = [models.Index(fields=["status"], name="sagastep_status")]

    def __str__(self):
        return f"{self.order} · {self.name} · {self.status}"

    @property
    def waiting_for_retry(self) -> bool:
        return self.status == SagaStepStatus.FAILED and self.next_retry_at is not None

    @transition(
        field=status,
        # From running again: the worker that ran it died, and the saga resumes it.
        source=[SagaStepStatus.PENDING, SagaStepStatus.FAILED, SagaStepStatus.RUNNING],
        target=SagaStepStatus.RUNNING,
        custom={"label": "run"},
    )
    def start(self):
        self.attempts += 1
        self.started_at = timezone.now()
        self.finished_at = None
        self.next_retry_at = None
        self.error = ""

    @transition(
        field=status,
        source=SagaStepStatus.RUNNING,
        target=SagaStepStatus.DONE,
        custom={"label": "mark done"},
    )
    def succeed(self, result: dict | None = None):
        self.finished_at = timezone.now()
        self.result = result or {}
        self.error = ""

    @transition(
        field=status,
        source=SagaStepStatus.RUNNING,
        target=SagaStepStatus.FAILED,
        custom={"label": "mark failed"},
    )
    def fail(self, error: str = "", next_retry_at=None):
        self.finished_at = timezone.now()
        self.error = error
        self.next_retry_at = next_retry_at

    @transition(
        field=status,
        source=[
            SagaStepStatus.PENDING,
            SagaStepStatus.RUNNING,
            SagaStepStatus.DONE,
            SagaStepStatus.FAILED,
        ],
        target=SagaStepStatus.COMPENSATED,
        custom={"label": "undo"},
    )
    def compensate(self, note: str = ""):
        """Its effect was undone (or it will never run) because the saga is compensating."""
        self.finished_at = timezone.now()
        self.next_retry_at = None
        if note:
            self.result = {**(self.result or {}), "compensation": note}
