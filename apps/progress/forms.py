from django import forms

from apps.leads.models import Cohort
from apps.progress.models import AlertType, Severity
from apps.progress.services import (
    ACTION_REQUIRED,
    NOTE_MAX_LENGTH,
    NOTE_REQUIRED,
    REASON_REQUIRED,
)

ANY = [("", "Any")]


class AlertFilterForm(forms.Form):
    """The inbox filters (GET). An unknown value is an error shown on the page (400)."""

    severity = forms.ChoiceField(choices=ANY + Severity.choices, required=False)
    alert_type = forms.ChoiceField(label="Type", choices=ANY + AlertType.choices, required=False)
    cohort = forms.ChoiceField(choices=ANY + Cohort.choices, required=False)


class AlertNoteForm(forms.Form):
    body = forms.CharField(
        label="Note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": NOTE_REQUIRED},
    )


class AlertResolveForm(forms.Form):
    action = forms.CharField(
        label="What was done",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": ACTION_REQUIRED},
    )


class AlertDismissForm(forms.Form):
    reason = forms.CharField(
        label="Why dismiss it",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": REASON_REQUIRED},
    )
