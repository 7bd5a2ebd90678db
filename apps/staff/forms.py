"""Forms of the merchant hub's actions. They bound what reaches the services (lengths,
required fields); the services decide the rest."""

from django import forms

from apps.staff import services


class NoteForm(forms.Form):
    target = forms.CharField(label="On", max_length=100)
    body = forms.CharField(
        label="Note",
        max_length=services.NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": services.NOTE_REQUIRED},
    )


class InterventionRaiseForm(forms.Form):
    reason = forms.CharField(
        label="Why",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": services.REASON_REQUIRED},
    )


class InterventionResolveForm(forms.Form):
    note = forms.CharField(
        label="What was done",
        max_length=services.NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": services.RESOLUTION_REQUIRED},
    )


class CallBackForm(forms.Form):
    why = forms.CharField(
        label="Why",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": services.CALL_BACK_WHY_REQUIRED},
    )


def first_error(form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else errors[0]
    return "Check the form."
