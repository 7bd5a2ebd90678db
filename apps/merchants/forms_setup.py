"""Forms of the guided-setup pages (steps 7 to 10). They parse and check what the merchant
typed; the services decide and write. PII inputs (SSN, date of birth, routing and account
numbers) never render a value back, not even after a form error: once typed, the digits
only ever appear masked."""

from django import forms
from django.core.exceptions import ValidationError

from apps.merchants import validators
from apps.merchants.choices import AccountType, DataImportKind, PersonType
from apps.merchants.forms_onboarding import KEEP_ON_FILE
from apps.merchants.selectors.kyc import OWNER_TYPES, owners_total
from apps.merchants.selectors.setup import INTEGRATION_CHOICES
from apps.merchants.services.kyc import (
    OWNERS_TOTAL_OVER_100,
    OWNERSHIP_ONLY_OWNERS,
    OWNERSHIP_REQUIRED,
    ssn_formatted,
)

SSN_REQUIRED = "Enter the person's Social Security number."
DOB_REQUIRED = "Enter the person's date of birth."
PII_RETYPE = "For your security, the SSN and date of birth are not shown again: re-enter them."


class SecretInput(forms.TextInput):
    """A text input that never renders its value back into the page."""

    def format_value(self, value):
        return None


class SecretDateInput(forms.DateInput):
    input_type = "date"

    def format_value(self, value):
        return None


def _numeric(placeholder: str) -> dict:
    return {"autocomplete": "off", "inputmode": "numeric", "placeholder": placeholder}


OWNERS_ONLY_MARK = "required for owners"


class PersonForm(forms.Form):
    """A representative or owner (step 7). `person` set: an edit, where an empty SSN or
    date of birth keeps the one on file."""

    person_type = forms.ChoiceField(
        label="Role", choices=PersonType.choices, widget=forms.RadioSelect
    )
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    title = forms.CharField(
        max_length=100, required=False, help_text="CEO, managing partner, director…"
    )
    ownership_percentage = forms.DecimalField(
        label="Ownership (%)",
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        help_text="Owners only: the share of the business they hold, 0 to 100.",
    )
    email = forms.EmailField(max_length=255, required=False)
    phone = forms.CharField(max_length=50, required=False)
    ssn = forms.CharField(
        label="Social Security number",
        max_length=20,
        widget=SecretInput(attrs=_numeric("XXX-XX-XXXX")),
        error_messages={"required": SSN_REQUIRED},
    )
    date_of_birth = forms.DateField(
        widget=SecretDateInput(), error_messages={"required": DOB_REQUIRED}
    )
    address_line1 = forms.CharField(label="Home address", max_length=255)
    address_line2 = forms.CharField(label="Address line 2", max_length=255, required=False)
    city = forms.CharField(max_length=100)
    state = forms.CharField(max_length=50)
    postal_code = forms.CharField(label="ZIP code", max_length=20)

    def __init__(self, *args, merchant, person=None, **kwargs):
        self.merchant = merchant
        self.person = person
        if person is not None and not args and "data" not in kwargs:
            kwargs.setdefault(
                "initial",
                {
                    name: getattr(person, name)
                    for name in self.base_fields
                    if name not in ("ssn", "date_of_birth")
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["ownership_percentage"].mark = OWNERS_ONLY_MARK
        if person is not None:
            for name in ("ssn", "date_of_birth"):
                self.fields[name].required = False
                self.fields[name].mark = KEEP_ON_FILE
            self.fields[
                "ssn"
            ].help_text = f"On file: {person.ssn_masked or 'none'}. Leave empty to keep it."
            self.fields["date_of_birth"].help_text = "On file. Leave empty to keep it."

    def clean_ssn(self):
        value = self.cleaned_data.get("ssn", "")
        if not value:
            return ""
        return ssn_formatted(validators.validate_ssn(value))

    def clean_date_of_birth(self):
        value = self.cleaned_data.get("date_of_birth")
        return validators.validate_date_of_birth(value) if value else None

    def clean(self):
        cleaned = super().clean()
        person_type = cleaned.get("person_type")
        share = cleaned.get("ownership_percentage")
        if person_type == PersonType.REPRESENTATIVE and share is not None:
            self.add_error("ownership_percentage", OWNERSHIP_ONLY_OWNERS)
        elif person_type in OWNER_TYPES and share is None and "ownership_percentage" in cleaned:
            self.add_error("ownership_percentage", OWNERSHIP_REQUIRED)
        elif person_type in OWNER_TYPES and share is not None:
            others = owners_total(
                merchant=self.merchant, excluding=self.person.pk if self.person else None
            )
            if others + share > 100:
                raise ValidationError(
                    OWNERS_TOTAL_OVER_100.format(total=f"{others + share:.2f}"),
                    code="ownership_over_100",
                )
        return cleaned

    def person_fields(self) -> dict:
        """What the services take: an empty SSN or date of birth (an edit) is left out."""
        fields = dict(self.cleaned_data)
        for name in ("ssn", "date_of_birth"):
            if not fields.get(name):
                fields.pop(name, None)
        if fields.get("person_type") == PersonType.REPRESENTATIVE:
            fields["ownership_percentage"] = None
        return fields


class BankAccountForm(forms.Form):
    account_holder_name = forms.CharField(
        label="Account holder", max_length=255, help_text="As the bank knows it."
    )
    account_type = forms.ChoiceField(
        choices=AccountType.choices, initial=AccountType.CHECKING, widget=forms.RadioSelect
    )
    routing_number = forms.CharField(max_length=20, widget=SecretInput(attrs=_numeric("9 digits")))
    account_number = forms.CharField(
        max_length=30, widget=SecretInput(attrs=_numeric("4 to 17 digits"))
    )
    bank_name = forms.CharField(max_length=255, required=False)

    def clean_routing_number(self):
        return validators.validate_routing_number(self.cleaned_data["routing_number"])

    def clean_account_number(self):
        return validators.validate_account_number(self.cleaned_data["account_number"])


class DataImportForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=DataImportKind.choices,
        initial=DataImportKind.PRODUCTS,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the import says what an empty file lacks
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class ChecklistItemForm(forms.Form):
    done = forms.TypedChoiceField(
        choices=(("1", "done"), ("0", "not done")), coerce=lambda value: value == "1"
    )


class FinalConfigForm(forms.Form):
    integrations = forms.MultipleChoiceField(
        label="Integrations to set up",
        choices=INTEGRATION_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
