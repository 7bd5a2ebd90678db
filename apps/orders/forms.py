"""The quote builder and the checkout form. They check the shape of the input; the prices,
the tax and every business rule are the services' (apps.orders.services, pricing)."""

from django import forms
from django.core.validators import RegexValidator

from apps.orders import pricing

NO_HARDWARE_CHOSEN = pricing.NO_HARDWARE_CHOSEN
US_POSTAL_CODE = RegexValidator(r"^\d{5}(-\d{4})?$", "Enter a US ZIP code: 12345 or 12345-6789.")
HARDWARE_CHOICE_LABELS = [
    (pricing.HARDWARE_BUY, "Buy hardware from us"),
    (pricing.HARDWARE_OWN, "I have my own hardware"),
    (pricing.HARDWARE_NONE, "I need no hardware"),
]


def _money(amount) -> str:
    return f"${amount:,.2f}"


class QuoteForm(forms.Form):
    """Steps 4 and 5. Built for one merchant: its catalog of products and where hardware can
    ship (`ship_to`: [(key, label)], a location id or "registered")."""

    tier = forms.ChoiceField(label="Software plan", widget=forms.RadioSelect)
    locations = forms.IntegerField(
        label="Locations",
        min_value=1,
        max_value=pricing.MAX_LOCATIONS,
        initial=1,
        help_text="Stores or venues that use the point of sale.",
    )
    registers = forms.IntegerField(
        label="Extra registers",
        min_value=0,
        max_value=pricing.MAX_REGISTERS,
        initial=0,
        help_text="Each location includes one register; count the registers beyond that.",
    )
    add_ons = forms.MultipleChoiceField(
        label="Add-ons", required=False, widget=forms.CheckboxSelectMultiple
    )
    services = forms.MultipleChoiceField(
        label="Services", required=False, widget=forms.CheckboxSelectMultiple
    )
    hardware_choice = forms.ChoiceField(
        label="Hardware",
        choices=HARDWARE_CHOICE_LABELS,
        initial=pricing.HARDWARE_BUY,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, catalog: dict, ship_to: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.catalog = catalog
        self.ship_to = ship_to
        by_type = {}
        for entry in catalog.values():
            by_type.setdefault(entry.item_type, []).append(entry)
        tiers = [
            entry
            for entry in by_type.get(pricing.SOFTWARE, [])
            if entry.pricing_unit == pricing.PER_LOCATION and entry.sku != pricing.REGISTER_SKU
        ]
        self.fields["tier"].choices = [
            (entry.sku, f"{entry.name} — {_money(entry.unit_price)} per location per month")
            for entry in tiers
        ]
        self.fields["add_ons"].choices = [
            (entry.sku, f"{entry.name} — {_money(entry.unit_price)} per location per month")
            for entry in by_type.get(pricing.ADD_ON, [])
        ]
        self.fields["services"].choices = [
            (entry.sku, f"{entry.name} — {_money(entry.unit_price)} once")
            for entry in by_type.get(pricing.SERVICE, [])
            if entry.sku != pricing.IC_SETUP_SKU
        ]
        if not self.fields["services"].choices:
            del self.fields["services"]
        self.hardware_products = by_type.get(pricing.HARDWARE, [])
        # One quantity per (ship-to, hardware product): hw__<key>__<sku>.
        self.hardware_fields = []
        for key, label in ship_to:
            names = []
            for entry in self.hardware_products:
                name = f"hw__{key}__{entry.sku}"
                self.fields[name] = forms.IntegerField(
                    label=f"{entry.name} ({_money(entry.unit_price)} each)",
                    min_value=0,
                    max_value=pricing.MAX_UNITS,
                    initial=0,
                    required=False,
                )
                names.append(name)
            self.hardware_fields.append((key, label, names))

    def hardware_sections(self):
        """[(label, [bound fields])] per ship-to, for the template."""
        return [
            (label, [self[name] for name in names]) for _key, label, names in self.hardware_fields
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("hardware_choice") == pricing.HARDWARE_BUY and not any(
            cleaned.get(name) for _key, _label, names in self.hardware_fields for name in names
        ):
            self.add_error("hardware_choice", NO_HARDWARE_CHOSEN)
        return cleaned

    def selection(self) -> pricing.Selection:
        data = self.cleaned_data
        hardware = {
            key: {
                name.split("__", 2)[2]: data.get(name) or 0
                for name in names
                if data.get(name)
            }
            for key, _label, names in self.hardware_fields
        }
        return pricing.Selection(
            tier=data["tier"],
            locations=data["locations"],
            registers=data["registers"],
            add_ons=tuple(data.get("add_ons") or ()),
            services=tuple(data.get("services") or ()),
            hardware={key: quantities for key, quantities in hardware.items() if quantities},
            hardware_choice=data["hardware_choice"],
        )


class CheckoutForm(forms.Form):
    """The billing address (prefilled from the order) and the attempt's one-time token: the
    payment's idempotency key, so a double click or a replayed request charges once."""

    billing_address_line1 = forms.CharField(label="Address", max_length=255)
    billing_address_line2 = forms.CharField(
        label="Address line 2", max_length=255, required=False
    )
    billing_city = forms.CharField(label="City", max_length=100)
    billing_state = forms.ChoiceField(label="State")
    billing_postal_code = forms.CharField(
        label="ZIP code", max_length=10, validators=[US_POSTAL_CODE]
    )
    attempt = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, states: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["billing_state"].choices = [("", "Choose…"), *states]

    def address(self) -> dict:
        return {
            field: self.cleaned_data.get(field, "")
            for field in (
                "billing_address_line1",
                "billing_address_line2",
                "billing_city",
                "billing_state",
                "billing_postal_code",
            )
        } | {"billing_country": "US"}
