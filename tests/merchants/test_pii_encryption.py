"""PII is encrypted at rest, kept out of the history tables and masked by default (rule 9)."""

import datetime

import pytest
from django.db import connection

from apps.merchants.models import Merchant, MerchantBankAccount, MerchantPerson
from tests.merchants.factories import (
    MerchantBankAccountFactory,
    MerchantFactory,
    MerchantPersonFactory,
)

pytestmark = pytest.mark.django_db

EIN = "12-3456789"
SSN = "123-45-6789"
DATE_OF_BIRTH = datetime.date(1980, 4, 17)
ACCOUNT_NUMBER = "000123456789"
ROUTING_NUMBER = "021000021"


def _stored(table: str, column: str, pk) -> str:
    # Table and column names come from this module only.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        (value,) = cursor.fetchone()
    return value


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def merchant():
    return MerchantFactory(ein=EIN)


@pytest.fixture
def person(merchant):
    return MerchantPersonFactory(merchant=merchant, ssn=SSN, date_of_birth=DATE_OF_BIRTH)


@pytest.fixture
def bank_account(merchant):
    return MerchantBankAccountFactory(
        merchant=merchant, account_number=ACCOUNT_NUMBER, routing_number=ROUTING_NUMBER
    )


def test_ein_is_stored_encrypted(merchant):
    stored = _stored("merchants_merchant", "ein", merchant.pk)

    assert stored
    assert EIN not in stored
    assert _digits(EIN) not in stored
    assert _digits(EIN)[2:] not in stored


def test_ein_hash_does_not_contain_the_ein(merchant):
    stored = _stored("merchants_merchant", "ein_hash", merchant.pk)

    assert _digits(EIN) not in stored


def test_ein_reads_back_as_plaintext(merchant):
    assert Merchant.objects.get(pk=merchant.pk).ein == EIN


def test_ssn_and_date_of_birth_are_stored_encrypted(person):
    stored_ssn = _stored("merchants_merchantperson", "ssn", person.pk)
    stored_dob = _stored("merchants_merchantperson", "date_of_birth", person.pk)

    assert stored_ssn and SSN not in stored_ssn and _digits(SSN) not in stored_ssn
    assert stored_dob
    assert DATE_OF_BIRTH.isoformat() not in stored_dob
    assert DATE_OF_BIRTH.strftime("%Y%m%d") not in stored_dob


def test_ssn_and_date_of_birth_read_back_as_plaintext(person):
    reread = MerchantPerson.objects.get(pk=person.pk)

    assert reread.ssn == SSN
    assert reread.date_of_birth == DATE_OF_BIRTH


def test_bank_account_and_routing_numbers_are_stored_encrypted(bank_account):
    stored_account = _stored("merchants_merchantbankaccount", "account_number", bank_account.pk)
    stored_routing = _stored("merchants_merchantbankaccount", "routing_number", bank_account.pk)

    assert stored_account and ACCOUNT_NUMBER not in stored_account
    assert _digits(ACCOUNT_NUMBER).lstrip("0") not in stored_account
    assert stored_routing and ROUTING_NUMBER not in stored_routing


def test_bank_account_and_routing_numbers_read_back_as_plaintext(bank_account):
    reread = MerchantBankAccount.objects.get(pk=bank_account.pk)

    assert reread.account_number == ACCOUNT_NUMBER
    assert reread.routing_number == ROUTING_NUMBER


@pytest.mark.parametrize(
    ("history_table", "pii_columns"),
    [
        ("merchants_historicalmerchant", {"ein"}),
        ("merchants_historicalmerchantperson", {"ssn", "date_of_birth"}),
        ("merchants_historicalmerchantbankaccount", {"account_number", "routing_number"}),
    ],
)
def test_history_tables_have_no_pii_columns(history_table, pii_columns):
    columns = _columns(history_table)

    assert "history_id" in columns, f"{history_table} does not exist"
    assert columns.isdisjoint(pii_columns)


def test_history_rows_were_written_without_pii(merchant, person, bank_account):
    # The rows exist (so the tables are in use), and hold no copy of the numbers at all.
    assert merchant.history.count() == 1
    assert person.history.count() == 1
    assert bank_account.history.count() == 1


def test_ein_is_masked_to_its_last_four_digits(merchant):
    assert merchant.ein_masked.endswith("6789")
    assert _digits(merchant.ein_masked) == "6789"


def test_ssn_is_masked_to_its_last_four_digits(person):
    assert person.ssn_masked.endswith("6789")
    assert _digits(person.ssn_masked) == "6789"


def test_bank_account_number_is_masked_to_its_last_four_digits(bank_account):
    assert bank_account.account_number_masked.endswith("6789")
    assert _digits(bank_account.account_number_masked) == "6789"
    assert _digits(bank_account.routing_number_masked) == "0021"
