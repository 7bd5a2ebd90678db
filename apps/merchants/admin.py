"""Merchants in the admin. PII (EIN, SSN, date of birth, bank account and routing numbers)
never appears here, not even encrypted: only the masked last four. Entering or revealing it
belongs to the merchant and staff pages, where every reveal is logged."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin, ReadOnlyInline, TrackedAdmin, transition_action
from apps.merchants.choices import CheckStatus
from apps.merchants.models import (
    DataImport,
    ImportedCustomer,
    ImportedProduct,
    Merchant,
    MerchantBankAccount,
    MerchantLocation,
    MerchantPerson,
)
from apps.merchants.models.merchant import DECIDE_KYB, DECIDE_KYC
from apps.merchants.services.journey import merchant_journey_block, merchant_journey_resume
from apps.merchants.services.kyb import merchant_kyb_decide
from apps.merchants.services.kyc import person_kyc_decide
from apps.progress.models import MerchantStepProgress

# Never in a form, a list or a search of the admin.
PII_FIELDS = ("ein", "ssn", "date_of_birth", "account_number", "routing_number")
REVIEWER_NOTES = "Reviewer notes"
REVIEWER_NOTES_HELP = "Kept in the KYB/KYC audit log with your name."


class MerchantLocationInline(admin.TabularInline):
    model = MerchantLocation
    extra = 0
    fields = (
        "location_number",
        "location_name",
        "is_primary",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "country",
        "phone",
        "email",
        "is_active",
    )
    readonly_fields = ("is_active",)


class MerchantPersonInline(ReadOnlyInline):
    model = MerchantPerson
    fields = (
        "first_name",
        "last_name",
        "person_type",
        "title",
        "ownership_percentage",
        "ssn_masked",
        "kyc_status",
        "kyc_submitted_at",
    )
    readonly_fields = ("ssn_masked",)

    @admin.display(description="SSN")
    def ssn_masked(self, person):
        return person.ssn_masked


class MerchantBankAccountInline(ReadOnlyInline):
    model = MerchantBankAccount
    fields = (
        "account_holder_name",
        "bank_name",
        "account_type",
        "account_number_masked",
        "routing_number_masked",
        "verification_status",
        "is_primary",
        "is_active",
    )
    readonly_fields = ("account_number_masked", "routing_number_masked")

    @admin.display(description="account number")
    def account_number_masked(self, account):
        return account.account_number_masked

    @admin.display(description="routing number")
    def routing_number_masked(self, account):
        return account.routing_number_masked


class MerchantStepProgressInline(ReadOnlyInline):
    model = MerchantStepProgress
    fields = (
        "step",
        "status",
        "started_at",
        "last_activity_at",
        "completed_at",
        "error_count",
        "intervention_required",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("step")


@admin.register(Merchant)
class MerchantAdmin(TrackedAdmin):
    list_display = (
        "legal_business_name",
        "cohort",
        "kyb_status",
        "kyc_status",
        "journey_status",
        "current_step",
        "payments_activated",
        "payouts_enabled",
        "created_at",
    )
    list_filter = (
        "kyb_status",
        "kyc_status",
        "journey_status",
        "cohort",
        "current_step",
        "payments_activated",
        "payouts_enabled",
        "business_structure",
        "created_at",
    )
    search_fields = (
        "legal_business_name",
        "lead__business_name",
        "lead__email",
        "user__email",
        "x_series_account_id",
        "payments_account_id",
        "billing_customer_id",
    )
    date_hierarchy = "created_at"
    exclude = PII_FIELDS
    fieldsets = (
        (
            "Business",
            {
                "fields": (
                    "legal_business_name",
                    "business_structure",
                    "ein_masked",
                    "cohort",
                    "lead",
                    "user",
                )
            },
        ),
        (
            "Registered address",
            {
                "fields": (
                    "registered_address_line1",
                    "registered_address_line2",
                    "registered_city",
                    "registered_state",
                    "registered_postal_code",
                    "registered_country",
                )
            },
        ),
        (
            "Verification",
            {
                "fields": (
                    "kyb_status",
                    "kyb_submitted_at",
                    "kyb_approved_at",
                    "kyb_rejected_at",
                    "kyb_rejection_reason",
                    "kyc_status",
                    "kyc_all_approved_at",
                ),
                "description": "Changed by KYB/KYC decisions (provider or reviewer actions).",
            },
        ),
        (
            "Payments",
            {
                "fields": (
                    "payments_activated",
                    "payments_activated_at",
                    "payouts_enabled",
                    "payouts_enabled_at",
                ),
                "description": "Payouts stay held until the primary bank account is verified "
                "and every person passed KYC.",
            },
        ),
        (
            "Subscription",
            {
                "fields": (
                    "subscription_tier",
                    "number_of_location_licenses",
                    "number_of_register_licenses",
                )
            },
        ),
        (
            "Journey",
            {
                "fields": (
                    "current_step",
                    "journey_status",
                    "journey_started_at",
                    "journey_completed_at",
                    "journey_abandoned_at",
                    "blocked_reason",
                    "is_active",
                    "activated_at",
                )
            },
        ),
        (
            "External accounts",
            {"fields": ("x_series_account_id", "payments_account_id", "billing_customer_id")},
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = (
        "ein_masked",
        "cohort",
        "lead",
        "user",
        "kyb_submitted_at",
        "kyb_approved_at",
        "kyb_rejected_at",
        "kyb_rejection_reason",
        "kyc_all_approved_at",
        "payments_activated",
        "payments_activated_at",
        "payouts_enabled",
        "payouts_enabled_at",
        "current_step",
        "journey_started_at",
        "journey_completed_at",
        "journey_abandoned_at",
        "blocked_reason",
        "is_active",
        "activated_at",
        "x_series_account_id",
        "payments_account_id",
    )
    # A keyed hash of the EIN: not PII by itself, but nothing a person needs to read.
    history_hidden_fields = ("ein_hash",)
    inlines = (
        MerchantLocationInline,
        MerchantPersonInline,
        MerchantBankAccountInline,
        MerchantStepProgressInline,
    )
    actions = [
        transition_action(
            lambda merchant, *, actor, reason: merchant_kyb_decide(
                merchant=merchant, decision=CheckStatus.APPROVED, actor=actor, notes=reason
            ),
            "Approve KYB under review…",
            name="kyb_approve",
            needs_reason=True,
            reason_label=REVIEWER_NOTES,
            reason_help=REVIEWER_NOTES_HELP,
            permissions=["decide_kyb"],
        ),
        transition_action(
            lambda merchant, *, actor, reason: merchant_kyb_decide(
                merchant=merchant, decision=CheckStatus.REJECTED, actor=actor, notes=reason
            ),
            "Reject KYB under review…",
            name="kyb_reject",
            needs_reason=True,
            reason_label=REVIEWER_NOTES,
            reason_help=REVIEWER_NOTES_HELP,
            permissions=["decide_kyb"],
        ),
        transition_action(
            lambda merchant, *, actor, reason: merchant_journey_block(
                merchant=merchant, actor=actor, reason=reason
            ),
            "Block the journey…",
            name="journey_block",
            needs_reason=True,
            reason_label="What blocks the journey",
        ),
        transition_action(
            lambda merchant, *, actor, reason: merchant_journey_resume(
                merchant=merchant, actor=actor, reason=reason
            ),
            "Resume the journey…",
            name="journey_resume",
            needs_reason=True,
            reason_label="Why resume it",
        ),
    ]

    def has_add_permission(self, request):
        # A merchant is created by account creation, from its lead.
        return False

    def has_decide_kyb_permission(self, request):
        return request.user.has_perm(DECIDE_KYB)

    @admin.display(description="EIN")
    def ein_masked(self, merchant):
        return merchant.ein_masked


@admin.register(MerchantLocation)
class MerchantLocationAdmin(TrackedAdmin):
    list_display = (
        "__str__",
        "merchant",
        "location_number",
        "is_primary",
        "city",
        "state",
        "is_active",
        "activated_at",
    )
    list_filter = ("is_primary", "is_active", "country", "state", "activated_at")
    search_fields = (
        "location_name",
        "merchant__legal_business_name",
        "address_line1",
        "city",
        "postal_code",
        "email",
        "x_series_location_id",
        "payments_location_id",
    )
    list_select_related = ("merchant",)
    autocomplete_fields = ("merchant",)
    readonly_fields = ("x_series_location_id", "payments_location_id", "is_active", "activated_at")


@admin.register(MerchantPerson)
class MerchantPersonAdmin(TrackedAdmin):
    list_display = (
        "__str__",
        "merchant",
        "person_type",
        "ownership_percentage",
        "kyc_status",
        "kyc_submitted_at",
        "kyc_approved_at",
    )
    list_filter = ("kyc_status", "person_type", "kyc_submitted_at")
    search_fields = (
        "first_name",
        "last_name",
        "email",
        "merchant__legal_business_name",
        "payments_person_id",
    )
    list_select_related = ("merchant",)
    exclude = PII_FIELDS
    fields = (
        "merchant",
        "person_type",
        "first_name",
        "last_name",
        "title",
        "ownership_percentage",
        "email",
        "phone",
        "ssn_masked",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "country",
        "kyc_status",
        "kyc_submitted_at",
        "kyc_approved_at",
        "kyc_rejected_at",
        "kyc_rejection_reason",
        "payments_person_id",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "merchant",
        "ssn_masked",
        "kyc_submitted_at",
        "kyc_approved_at",
        "kyc_rejected_at",
        "kyc_rejection_reason",
        "payments_person_id",
    )
    actions = [
        transition_action(
            lambda person, *, actor, reason: person_kyc_decide(
                person=person, decision=CheckStatus.APPROVED, actor=actor, notes=reason
            ),
            "Approve KYC under review…",
            name="kyc_approve",
            needs_reason=True,
            reason_label=REVIEWER_NOTES,
            reason_help=REVIEWER_NOTES_HELP,
            permissions=["decide_kyc"],
        ),
        transition_action(
            lambda person, *, actor, reason: person_kyc_decide(
                person=person, decision=CheckStatus.REJECTED, actor=actor, notes=reason
            ),
            "Reject KYC under review…",
            name="kyc_reject",
            needs_reason=True,
            reason_label=REVIEWER_NOTES,
            reason_help=REVIEWER_NOTES_HELP,
            permissions=["decide_kyc"],
        ),
    ]

    def has_add_permission(self, request):
        # People are entered (with their SSN) by the merchant in step 7.
        return False

    def has_decide_kyc_permission(self, request):
        return request.user.has_perm(DECIDE_KYC)

    @admin.display(description="SSN")
    def ssn_masked(self, person):
        return person.ssn_masked


@admin.register(MerchantBankAccount)
class MerchantBankAccountAdmin(TrackedAdmin):
    list_display = (
        "account_holder_name",
        "account_number_masked",
        "merchant",
        "bank_name",
        "account_type",
        "verification_status",
        "is_primary",
        "is_active",
        "verified_at",
    )
    list_filter = ("verification_status", "account_type", "is_primary", "is_active", "verified_at")
    search_fields = (
        "account_holder_name",
        "bank_name",
        "merchant__legal_business_name",
        "payments_bank_id",
    )
    list_select_related = ("merchant",)
    exclude = PII_FIELDS
    fields = (
        "merchant",
        "account_holder_name",
        "account_type",
        "bank_name",
        "account_number_masked",
        "routing_number_masked",
        "verification_status",
        "verification_method",
        "verified_at",
        "verification_failed_at",
        "verification_failure_reason",
        "is_primary",
        "is_active",
        "payments_bank_id",
        "created_at",
        "updated_at",
    )
    # Primary and active drive the payouts gate (rule 2): changed only by the services.
    readonly_fields = (
        "merchant",
        "account_type",
        "account_number_masked",
        "routing_number_masked",
        "verification_method",
        "verified_at",
        "verification_failed_at",
        "verification_failure_reason",
        "is_primary",
        "is_active",
        "payments_bank_id",
    )

    def has_add_permission(self, request):
        # Account numbers are entered by the merchant in step 7, then verified.
        return False

    @admin.display(description="account number")
    def account_number_masked(self, account):
        return account.account_number_masked

    @admin.display(description="routing number")
    def routing_number_masked(self, account):
        return account.routing_number_masked


# --- Step 8: data imports ---------------------------------------------------------------------


@admin.register(DataImport)
class DataImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each CSV upload and its outcome, with the errors by line: what an implementation
    consultant reads to help a merchant whose import was refused. Written once, never
    changed."""

    list_display = (
        "filename",
        "merchant",
        "kind",
        "status",
        "row_count",
        "created_count",
        "updated_count",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", "status", "created_at")
    search_fields = ("filename", "merchant__legal_business_name", "created_by__email")
    list_select_related = ("merchant", "created_by")
    date_hierarchy = "created_at"


class _ImportedRowAdmin(TrackedAdmin):
    list_select_related = ("merchant",)
    readonly_fields = ("merchant", "data_import")

    def has_add_permission(self, request):
        # Rows come from the merchant's CSV imports (step 8).
        return False


@admin.register(ImportedProduct)
class ImportedProductAdmin(_ImportedRowAdmin):
    list_display = ("sku", "name", "merchant", "price", "quantity", "category", "updated_at")
    list_filter = ("category", "created_at")
    search_fields = ("sku", "name", "category", "merchant__legal_business_name")
    fields = ("merchant", "data_import", "sku", "name", "price", "quantity", "category")


@admin.register(ImportedCustomer)
class ImportedCustomerAdmin(_ImportedRowAdmin):
    list_display = ("email", "first_name", "last_name", "merchant", "phone", "updated_at")
    list_filter = ("created_at",)
    search_fields = ("email", "first_name", "last_name", "merchant__legal_business_name")
    fields = ("merchant", "data_import", "first_name", "last_name", "email", "phone")
