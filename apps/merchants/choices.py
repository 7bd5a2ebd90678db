"""The merchants app's vocabulary: the states and kinds its models store (field choices,
checked by database constraints). Importing it loads no model, so forms, validators and
seeding data may use it freely."""

from django.db import models


class BusinessStructure(models.TextChoices):
    LLC = "llc", "LLC"
    CORPORATION = "corporation", "Corporation"
    PARTNERSHIP = "partnership", "Partnership"
    SOLE_PROPRIETOR = "sole_proprietor", "Sole proprietor"
    NON_PROFIT = "non_profit", "Non-profit"


class CheckStatus(models.TextChoices):
    """KYB and KYC share one shape."""

    PENDING = "pending", "Not submitted"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    REVIEW_REQUIRED = "review_required", "Under review"


class JourneyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    ABANDONED = "abandoned", "Abandoned"
    BLOCKED = "blocked", "Blocked"


class PersonType(models.TextChoices):
    REPRESENTATIVE = "representative", "Representative"
    OWNER = "owner", "Owner"
    BOTH = "both", "Representative and owner"


class AccountType(models.TextChoices):
    CHECKING = "checking", "Checking"
    SAVINGS = "savings", "Savings"


class VerificationStatus(models.TextChoices):
    PENDING = "pending", "Not verified yet"
    IN_PROGRESS = "in_progress", "Verifying"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Verification failed"


class DataImportKind(models.TextChoices):
    PRODUCTS = "products", "Products"
    CUSTOMERS = "customers", "Customers"


class DataImportStatus(models.TextChoices):
    COMPLETED = "completed", "Imported"
    FAILED = "failed", "Refused (nothing imported)"
