from django import forms
from django.contrib.auth.forms import AuthenticationForm


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


TIME_ZONE_UNKNOWN = (
    "Choose a time zone from the list (for example Europe/Paris or America/New_York)."
)


class TimeZoneForm(forms.Form):
    """A staff member's time zone: an IANA name from the list, or empty for the portal's."""

    time_zone = forms.CharField(
        label="Time zone",
        max_length=64,
        required=False,
        help_text="Times on staff pages are shown in this zone. Leave empty for the portal's.",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )

    def clean_time_zone(self):
        from apps.accounts.models import time_zone_valid

        name = self.cleaned_data["time_zone"].strip()
        if name and not time_zone_valid(name):
            raise forms.ValidationError(TIME_ZONE_UNKNOWN, code="unknown_time_zone")
        return name
