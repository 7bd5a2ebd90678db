from django import forms

from apps.merchants.choices import CheckStatus
from apps.merchants.services.decisions import NOTES_REQUIRED

DECISION_REQUIRED = "Choose: approve or reject."


class CaseDecisionForm(forms.Form):
    """A reviewer's decision on a KYB or a person's KYC under review. Notes are required:
    they are kept in the audit log and, for a rejection, shown to the merchant as the
    reason."""

    decision = forms.ChoiceField(
        choices=[(CheckStatus.APPROVED, "Approve"), (CheckStatus.REJECTED, "Reject")],
        error_messages={"required": DECISION_REQUIRED, "invalid_choice": DECISION_REQUIRED},
    )
    notes = forms.CharField(
        label="Notes",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": NOTES_REQUIRED},
        help_text="Why you decide so: kept in the audit log; a rejection's notes are shown "
        "to the merchant.",
    )

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"


KybDecisionForm = CaseDecisionForm


REVEAL_REASON_REQUIRED = "Choose why you need to see this."
REVEAL_DETAILS_REQUIRED = "Say what you are doing (a case, a ticket): it is kept in the log."
REVEAL_DETAILS_MAX = 500


class RevealForm(forms.Form):
    """Why a reviewer reveals personal data: a reason from the list and a few words."""

    reason = forms.ChoiceField(
        label="Reason",
        choices=[],  # set in __init__ (apps.compliance.reveal imports models)
        error_messages={
            "required": REVEAL_REASON_REQUIRED,
            "invalid_choice": REVEAL_REASON_REQUIRED,
        },
    )
    details = forms.CharField(
        label="Details",
        max_length=REVEAL_DETAILS_MAX,
        min_length=5,
        strip=True,
        error_messages={
            "required": REVEAL_DETAILS_REQUIRED,
            "min_length": REVEAL_DETAILS_REQUIRED,
            "max_length": f"At most {REVEAL_DETAILS_MAX} characters.",
        },
    )

    def __init__(self, *args, **kwargs):
        from apps.compliance.reveal import RevealReason

        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", "Choose…"), *RevealReason.choices]


DATE_INVALID = "Enter a date as YYYY-MM-DD."
RANGE_INVALID = "The start date must be on or before the end date."
RANGE_TOO_LONG = "Choose a range of at most {days} days."
SEARCH_TOO_LONG = "At most 255 characters."


class AccessLogFilterForm(forms.Form):
    """Search the data access log: by user (email), merchant (id or name) and dates."""

    user = forms.CharField(
        required=False, max_length=255, error_messages={"max_length": SEARCH_TOO_LONG}
    )
    merchant = forms.CharField(
        required=False, max_length=255, error_messages={"max_length": SEARCH_TOO_LONG}
    )
    date_from = forms.DateField(required=False, error_messages={"invalid": DATE_INVALID})
    date_to = forms.DateField(required=False, error_messages={"invalid": DATE_INVALID})

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(RANGE_INVALID)
        return data


class DecisionExportForm(forms.Form):
    """A date range of KYB/KYC decisions to export (both days included)."""

    MAX_DAYS = 366 * 7

    date_from = forms.DateField(error_messages={"invalid": DATE_INVALID, "required": DATE_INVALID})
    date_to = forms.DateField(error_messages={"invalid": DATE_INVALID, "required": DATE_INVALID})

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError(RANGE_INVALID)
            if (end - start).days > self.MAX_DAYS:
                raise forms.ValidationError(RANGE_TOO_LONG.format(days=self.MAX_DAYS))
        return data
