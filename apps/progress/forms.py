from django import forms

from apps.leads.models import Cohort
from apps.progress.models import AlertType, Severity
from apps.progress.selectors import UNASSIGNED
from apps.progress.services import (
    ACTION_REQUIRED,
    NOTE_MAX_LENGTH,
    NOTE_REQUIRED,
    REASON_REQUIRED,
)

ANY = [("", "Any")]


ASSIGNEE_ME = "me"


class AlertFilterForm(forms.Form):
    """The inbox filters (GET). An unknown value is an error shown on the page (400).
    Assignee: anyone, me, nobody yet, or one of the people who work alerts (`agents`)."""

    severity = forms.ChoiceField(choices=ANY + Severity.choices, required=False)
    alert_type = forms.ChoiceField(label="Type", choices=ANY + AlertType.choices, required=False)
    cohort = forms.ChoiceField(choices=ANY + Cohort.choices, required=False)
    assignee = forms.ChoiceField(label="Claimed by", required=False)

    def __init__(self, *args, user, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            (ASSIGNEE_ME, "Me"),
            (UNASSIGNED, "Nobody yet"),
            *[(str(agent.pk), agent.email) for agent in agents if agent.pk != user.pk],
        ]

    def clean_assignee(self):
        value = self.cleaned_data["assignee"]
        return str(self.user.pk) if value == ASSIGNEE_ME else value


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
