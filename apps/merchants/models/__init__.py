"""The merchants app's models, one module per subject: `merchant` (Merchant, its locations,
the KYB/KYC decide permissions), `person` (MerchantPerson), `bank` (MerchantBankAccount),
`data_import` (DataImport, ImportedProduct, ImportedCustomer). Their choices live in
apps.merchants.choices.

The imports below are the one re-export of the app: Django's app registry (and every
`from apps.merchants.models import Merchant`) finds the model classes here. Import
anything else from its own module."""

from apps.merchants.models.bank import MerchantBankAccount
from apps.merchants.models.data_import import DataImport, ImportedCustomer, ImportedProduct
from apps.merchants.models.merchant import Merchant, MerchantLocation
from apps.merchants.models.person import MerchantPerson

__all__ = [
    "DataImport",
    "ImportedCustomer",
    "ImportedProduct",
    "Merchant",
    "MerchantBankAccount",
    "MerchantLocation",
    "MerchantPerson",
]
