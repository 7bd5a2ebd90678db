"""Steps 7-10 and the bank account (mounted at the site root, namespace "merchants")."""

from django.urls import path

from apps.merchants.views import bank, data_import, kyc, setup

urlpatterns = [
    # Step 7: persons, KYC and payments activation.
    path("kyc/", kyc.kyc, name="kyc"),
    path("kyc/status/", kyc.kyc_status, name="kyc_status"),
    path("kyc/submit/", kyc.kyc_submit, name="kyc_submit"),
    path("kyc/persons/", kyc.kyc_person_add, name="kyc_person_add"),
    path("kyc/persons/<uuid:person_id>/edit/", kyc.kyc_person_edit, name="kyc_person_edit"),
    path(
        "kyc/persons/<uuid:person_id>/remove/", kyc.kyc_person_remove, name="kyc_person_remove"
    ),
    # The payout bank account.
    path("bank-account/", bank.bank_account, name="bank_account"),
    path("bank-account/status/", bank.bank_account_status, name="bank_account_status"),
    path(
        "bank-account/<uuid:account_id>/verify/",
        bank.bank_account_verify,
        name="bank_account_verify",
    ),
    # Step 8: data import.
    path("data-import/", data_import.data_import, name="data_import"),
    path("data-import/done/", data_import.data_import_done, name="data_import_done"),
    path("data-import/skip/", data_import.data_import_skip, name="data_import_skip"),
    # Step 9: hardware setup.
    path("hardware-setup/", setup.hardware_setup, name="hardware_setup"),
    path(
        "hardware-setup/no-hardware/",
        setup.hardware_setup_no_hardware,
        name="hardware_setup_no_hardware",
    ),
    path(
        "hardware-setup/items/<slug:item>/",
        setup.hardware_setup_item,
        name="hardware_setup_item",
    ),
    # Step 10: final configuration and going live.
    path("final-config/", setup.final_config, name="final_config"),
    path("final-config/go-live/", setup.go_live, name="go_live"),
]
