"""Forms of steps 2-3: account creation and the KYB legal entity. They check the input's
shape; the services decide everything else (and refuse with DomainError codes the views
turn into field errors)."""

import re

from django import forms
from django.contrib.auth import password_validation
from stdnum.exceptions import InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.us import ein as stdnum_ein

from apps.accounts.models import User
from apps.merchants.choices import BusinessStructure

PASSWORD_HELP = (
    "At least 8 characters; not a common password, not only digits, and not like your email."
)
PASSWORDS_DIFFER = "The two passwords are not the same."
EIN_FORMAT = "Enter the EIN as 9 digits, like 12-3456789."
EIN_PREFIX = "This is not a valid EIN: the IRS does not assign numbers starting with these digits."
EIN_INVALID = "This is not a valid EIN."
EIN_REQUIRED = "Enter the EIN (Employer Identification Number) of the business."
POSTAL_CODE_INVALID = "Enter a 5-digit ZIP code, or a ZIP+4 code like 12345-6789."
EIN_CHANGE_HINT = "{masked} — enter a new EIN to change it"

US_STATES = [
    ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"),
    ("CA", "California"), ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"),
    ("DC", "District of Columbia"), ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"),
    ("ID", "Idaho"), ("IL", "Illinois"), ("IN", "Indiana"), ("IA", "Iowa"), ("KS", "Kansas"),
    ("KY", "Kentucky"), ("LA", "Louisiana"), ("ME", "Maine"), ("MD", "Maryland"),
    ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"), ("MS", "Mississippi"),
    ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"),
    ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"), ("NY", "New York"),
    ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"),
    ("OR", "Oregon"), ("PA", "Pennsylvania"), ("RI", "Rhode Island"),
    ("SC", "South Carolina"), ("SD", "South Dakota"), ("TN", "Tennessee"), ("TX", "Texas"),
    ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"), ("WA", "Washington"),
    ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
]  # fmt: skip
COUNTRIES = [("US", "United States")]
_POSTAL_CODE = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")


class MarksInvalidFields:
    """Fields with errors get aria-invalid (Pico CSS shows them, screen readers say so)."""

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"


class AccountCreateForm(MarksInvalidFields, forms.Form):
    """Password twice and the legal business name; the email too when the visitor did not
    come with a lead's link (with one, the email is the lead's and not editable)."""

    email = forms.EmailField(
        label="Email", max_length=255, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    legal_business_name = forms.CharField(
        label="Legal business name",
        max_length=255,
        help_text="As registered with the IRS; you can correct it in the next step.",
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=PASSWORD_HELP,
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, lead=None, **kwargs):
        self.lead = lead
        super().__init__(*args, **kwargs)
        if lead is not None:
            del self.fields["email"]
            self.fields["legal_business_name"].initial = lead.business_name

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", PASSWORDS_DIFFER)
        elif password1:
            email = self.lead.email if self.lead is not None else cleaned.get("email", "")
            candidate = User(
                email=email or "",
                first_name=getattr(self.lead, "first_name", ""),
                last_name=getattr(self.lead, "last_name", ""),
            )
            try:
                password_validation.validate_password(password1, user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class NoEchoTextInput(forms.TextInput):
    """A text input that never renders its value back: an EIN typed once is not sent to
    the browser again, not even with the form's other errors."""

    def format_value(self, value):
        return None


def ein_clean(value: str) -> str:
    """The EIN as 9 digits, or a ValidationError saying what is wrong with it."""
    try:
        return stdnum_ein.validate(value)
    except (InvalidFormat, InvalidLength) as exc:
        raise forms.ValidationError(EIN_FORMAT, code="ein_format") from exc
    except InvalidComponent as exc:
        raise forms.ValidationError(EIN_PREFIX, code="ein_prefix") from exc
    except ValidationError as exc:
        raise forms.ValidationError(EIN_INVALID, code="ein_invalid") from exc


# How a field that may stay empty because a value is on file is marked (field.mark, shown
# by the field templates instead of "optional").
KEEP_ON_FILE = "leave empty to keep the one on file"


class KybForm(MarksInvalidFields, forms.Form):
    """The legal entity checked by KYB. The EIN is asked for until one is stored; after
    that it shows masked and is replaced only when a new one is typed."""

    business_structure = forms.ChoiceField(
        label="Business structure", choices=[("", "Choose…"), *BusinessStructure.choices]
    )
    legal_business_name = forms.CharField(label="Legal business name", max_length=255)
    ein = forms.CharField(
        label="EIN",
        max_length=20,
        required=False,
        widget=NoEchoTextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text="The 9-digit Employer Identification Number, like 12-3456789.",
    )
    registered_address_line1 = forms.CharField(label="Street address", max_length=255)
    registered_address_line2 = forms.CharField(
        label="Address line 2", max_length=255, required=False
    )
    registered_city = forms.CharField(label="City", max_length=100)
    registered_state = forms.ChoiceField(label="State", choices=[("", "Choose…"), *US_STATES])
    registered_postal_code = forms.CharField(label="ZIP code", max_length=10)
    registered_country = forms.ChoiceField(label="Country", choices=COUNTRIES, initial="US")

    def __init__(self, *args, merchant, **kwargs):
        self.merchant = merchant
        kwargs.setdefault(
            "initial",
            {
                "business_structure": merchant.business_structure,
                "legal_business_name": merchant.legal_business_name,
                "registered_address_line1": merchant.registered_address_line1,
                "registered_address_line2": merchant.registered_address_line2,
                "registered_city": merchant.registered_city,
                "registered_state": merchant.registered_state,
                "registered_postal_code": merchant.registered_postal_code,
                "registered_country": merchant.registered_country or "US",
            },
        )
        super().__init__(*args, **kwargs)
        if merchant.ein_hash:
            # Neither optional nor required: the one on file stays unless a new one is typed.
            self.fields["ein"].mark = KEEP_ON_FILE
            self.fields["ein"].help_text = EIN_CHANGE_HINT.format(masked=merchant.ein_masked)
            self.fields["ein"].widget.attrs["placeholder"] = merchant.ein_masked
        else:
            self.fields["ein"].required = True
            self.fields["ein"].error_messages["required"] = EIN_REQUIRED

    def clean_ein(self):
        value = self.cleaned_data["ein"].strip()
        return ein_clean(value) if value else ""

    def clean_registered_postal_code(self):
        match = _POSTAL_CODE.match(self.cleaned_data["registered_postal_code"].strip())
        if match is None:
            raise forms.ValidationError(POSTAL_CODE_INVALID, code="postal_code")
        five, four = match.groups()
        return f"{five}-{four}" if four else five

    def details(self) -> dict:
        """The service's keyword arguments."""
        return dict(self.cleaned_data)
