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


SEARCH_MAX = 100
FILTER_INVALID = {
    "status": "Unknown status “{value}”: showing every open item.",
    "assignee": "Unknown assignee “{value}”: showing items held by anyone.",
    "cohort": "Unknown cohort “{value}”: showing every cohort.",
    "sort": "Unknown order “{value}”: sorted by priority.",
    "q": "Search for at most 100 characters: the search was left out.",
}


class QueueFilterForm(forms.Form):
    """The queue page's filters, from the query string. A value that is not on offer is left
    out with a message (the page still shows, with a 400); never a 500."""

    status = forms.ChoiceField(required=False)
    assignee = forms.ChoiceField(required=False)
    cohort = forms.ChoiceField(required=False)
    q = forms.CharField(required=False, max_length=SEARCH_MAX, strip=True)
    sort = forms.ChoiceField(required=False)

    def __init__(self, data, *, agents, **kwargs):
        from apps.leads.models import Cohort
        from apps.routing.selectors import SORTS, STATUS_FILTERS

        super().__init__(data, **kwargs)
        self.fields["status"].choices = [(k, v[0]) for k, v in STATUS_FILTERS.items()]
        self.fields["sort"].choices = [(k, v[0]) for k, v in SORTS.items()]
        self.fields["cohort"].choices = [("", "Every cohort"), *Cohort.choices]
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Nobody (waiting)"),
            ("others", "Other agents"),
            *((str(agent.pk), agent.get_full_name() or agent.email) for agent in agents),
        ]

    def filters(self):
        """(QueueFilters from the valid values, the messages for the values left out)."""
        from apps.routing.selectors import QueueFilters

        self.is_valid()
        values, problems = {}, []
        for name in ("status", "assignee", "cohort", "q", "sort"):
            if name in self.errors:
                raw = str(self.data.get(name, ""))[:40]
                problems.append(FILTER_INVALID[name].format(value=raw))
            elif self.cleaned_data.get(name):
                values[name] = self.cleaned_data[name]
        return QueueFilters(**values), problems
