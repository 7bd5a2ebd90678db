from django import forms

from apps.routing.services.checks import REASON_REQUIRED
from apps.routing.services.notes import NOTE_REQUIRED

AGENT_REQUIRED = "Choose the agent who takes it: someone else who works this queue."

REASON_MAX = 2000
NOTE_MAX = 4000


class ReasonForm(forms.Form):
    """Release and escalate: the reason is read by the next person."""

    reason = forms.CharField(
        max_length=REASON_MAX, error_messages={"required": REASON_REQUIRED}, strip=True
    )


class ReassignForm(forms.Form):
    """Hand an item to another agent of the queue's role; `agents` are the choices."""

    agent = forms.ModelChoiceField(
        queryset=None,
        error_messages={"required": AGENT_REQUIRED, "invalid_choice": AGENT_REQUIRED},
    )
    reason = forms.CharField(
        max_length=REASON_MAX, error_messages={"required": REASON_REQUIRED}, strip=True
    )

    def __init__(self, *args, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents


class ResolveForm(forms.Form):
    note = forms.CharField(max_length=REASON_MAX, required=False, strip=True)


class NoteForm(forms.Form):
    body = forms.CharField(
        max_length=NOTE_MAX, error_messages={"required": NOTE_REQUIRED}, strip=True
    )


def first_error(form: forms.Form) -> str:
    """The form's first error message, for a one-line refusal."""
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return "Check the form and try again."
