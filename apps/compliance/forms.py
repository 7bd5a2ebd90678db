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
