"""Step 8 at /data-import/ (optional): CSV imports of products and customers, checked row
by row with the problems by line, all or nothing, within the size and row limits; skip or
finish the step."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.merchants import validators
from apps.merchants.choices import DataImportStatus
from apps.merchants.models import DataImport, ImportedCustomer, ImportedProduct
from apps.merchants.services import data_import, steps
from apps.merchants.views.data_import import IMPORT_REFUSED, IMPORTS_DONE, IMPORTS_SKIPPED
from apps.progress.models import StepStatus
from tests.accounts.factories import AeUserFactory, IcUserFactory, OpsUserFactory
from tests.merchants.factories import (
    DataImportFactory,
    ImportedProductFactory,
    merchant_at_setup,
)

pytestmark = pytest.mark.django_db

PAGE = reverse("merchants:data_import")
DONE = reverse("merchants:data_import_done")
SKIP = reverse("merchants:data_import_skip")

PRODUCTS = (
    "sku,name,price,quantity,category\n"
    "LAT-01,Latte,4.50,100,Coffee\n"
    "ESP-01,Espresso,3.00,80,\n"
    "MUG-01,Mug,12,0,Merch\n"
)
CUSTOMERS = (
    "first_name,last_name,email,phone\n"
    "Ana,Silva,Ana@Example.com,+1 415 555 0100\n"
    "Ben,Okafor,ben@example.com,\n"
)


def text(response) -> str:
    return html.unescape(response.content.decode())


def csv_file(content, name="products.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def step(merchant, step_id=8):
    return merchant.step_progress.get(step_id=step_id)


@pytest.fixture
def merchant(journey_steps):
    return merchant_at_setup(steps_done=range(1, 8))


@pytest.fixture
def signed_in(client, merchant):
    client.force_login(merchant.user)
    return client


def upload(client, content, kind="products", name="products.csv", **extra):
    return client.post(PAGE, {"kind": kind, "file": csv_file(content, name)}, **extra)


# --- imports that work ------------------------------------------------------------------------


def test_products_are_imported_with_a_summary_and_step_8_starts(signed_in, merchant):
    response = upload(signed_in, PRODUCTS, follow=True)

    assert "3 products imported from products.csv." in text(response)
    products = {p.sku: p for p in ImportedProduct.objects.filter(merchant=merchant)}
    assert set(products) == {"LAT-01", "ESP-01", "MUG-01"}
    assert str(products["LAT-01"].price) == "4.50"
    assert (products["MUG-01"].quantity, products["ESP-01"].category) == (0, "")
    record = DataImport.objects.get()
    assert (record.status, record.row_count, record.created_count) == ("completed", 3, 3)
    assert record.created_by == merchant.user
    assert products["LAT-01"].history.first().history_user == merchant.user
    assert step(merchant).status == StepStatus.IN_PROGRESS
    assert "Done with imports" in text(response)


def test_customers_are_imported_with_emails_in_lower_case(signed_in, merchant):
    response = upload(signed_in, CUSTOMERS, kind="customers", name="customers.csv", follow=True)

    assert "2 customers imported from customers.csv." in text(response)
    assert set(ImportedCustomer.objects.values_list("email", flat=True)) == {
        "ana@example.com",
        "ben@example.com",
    }


def test_a_second_import_updates_what_is_already_there(signed_in, merchant):
    ImportedProductFactory(merchant=merchant, sku="LAT-01", name="Old latte", quantity=1)

    response = upload(signed_in, PRODUCTS, follow=True)

    assert "3 products imported from products.csv (1 already there, updated)." in text(response)
    latte = ImportedProduct.objects.get(merchant=merchant, sku="LAT-01")
    assert (latte.name, latte.quantity) == ("Latte", 100)
    assert ImportedProduct.objects.count() == 3


def test_a_byte_order_mark_blank_lines_and_quoted_commas_are_fine(signed_in):
    content = '\ufeffSKU, Name ,price,quantity\n\n"A-1","Tea, green",2.5,3\n\n'

    response = upload(signed_in, content.encode("utf-8"), follow=True)

    assert "1 product imported" in text(response)
    assert ImportedProduct.objects.get().name == "Tea, green"


# --- imports that are refused: all or nothing -------------------------------------------------


def test_each_bad_row_is_reported_by_its_line_and_nothing_is_saved(signed_in, merchant):
    content = (
        "sku,name,price,quantity,category\n"  # line 1
        "A-1,Tea,2.50,3,\n"  # line 2: fine
        "A-2,Cake,abc,1,\n"  # line 3
        "A-3,Bun,-1,1,\n"  # line 4
        "A-4,,1.00,2.5,\n"  # line 5: two problems
        "A-1,Tea again,1,1,\n"  # line 6: duplicate
        "A-5,Pie,1.999,1,\n"  # line 7
    )

    response = upload(signed_in, content)

    assert response.status_code == 422
    page = text(response)
    for problem in [
        "Line 3: price 'abc' is not a number",
        "Line 4: price '-1' must be 0 or more",
        "Line 5: name is missing",
        "Line 5: quantity '2.5' is not a whole number",
        "Line 6: sku 'A-1' already appears on line 2",
        "Line 7: price '1.999' has more than 2 decimal places",
    ]:
        assert problem in page
    assert IMPORT_REFUSED.format(filename="products.csv") in page
    assert "Line 2" not in page
    assert not ImportedProduct.objects.exists()
    record = DataImport.objects.get()
    assert record.status == DataImportStatus.FAILED
    assert "Line 3: price 'abc' is not a number" in record.errors
    progress = step(merchant)
    assert (progress.status, progress.error_count) == (StepStatus.FAILED, 1)


def test_the_line_message_reads_as_the_brief_says(signed_in):
    rows = "".join(f"P-{n},Item {n},1.00,1,\n" for n in range(2, 7))
    response = upload(signed_in, "sku,name,price,quantity,category\n" + rows + "P-7,X,abc,1,\n")

    assert "Line 7: price 'abc' is not a number" in text(response)
    assert validators.ROW_NOT_A_NUMBER.format(line=7, column="price", value="abc") in text(
        response
    )


def test_a_bad_customer_email_is_reported_by_line(signed_in):
    content = "first_name,last_name,email\nAna,Silva,ana@example\nBen,Okafor,ben@example.com\n"

    response = upload(signed_in, content, kind="customers", name="c.csv")

    assert "Line 2: email 'ana@example' is not a valid email address" in text(response)
    assert not ImportedCustomer.objects.exists()


def test_a_good_import_after_a_refused_one_puts_step_8_back_in_progress(signed_in, merchant):
    upload(signed_in, "sku,name,price,quantity\nA,B,x,1\n")
    assert step(merchant).status == StepStatus.FAILED

    upload(signed_in, PRODUCTS)

    assert step(merchant).status == StepStatus.IN_PROGRESS
    assert ImportedProduct.objects.count() == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,price,quantity\nTea,1,1\n", "Missing: sku"),
        ("sku,name,price,quantity,colour\nA,Tea,1,1,red\n", "Unknown column(s) colour"),
        (
            "sku,name,price,quantity,sku\nA,Tea,1,1,B\n",
            validators.IMPORT_DUPLICATE_COLUMNS.format(columns="sku"),
        ),
        (
            "first_name,last_name,email\nAna,Silva,a@example.com\n",
            "Missing: sku, name, price, quantity",
        ),
        ("", validators.IMPORT_EMPTY),
        ("sku,name,price,quantity\n", validators.IMPORT_NO_ROWS),
        ("sku,name,price,quantity\nA,Tea,1\n", "Line 2: 3 values where the header names 4 columns"),
        ('sku,name,price,quantity\nA,"Tea,1,1\n', "could not be read as CSV"),
    ],
    ids=[
        "missing-column",
        "unknown-column",
        "duplicate-column",
        "customers-file-as-products",
        "empty",
        "header-only",
        "short-row",
        "broken-quote",
    ],
)
def test_a_file_with_the_wrong_shape_is_refused_with_a_clear_message(signed_in, content, message):
    response = upload(signed_in, content)

    assert response.status_code == 422
    assert message in text(response)
    assert not ImportedProduct.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(signed_in):
    response = upload(signed_in, "sku,name,price,quantity\nA,Café,1,1\n".encode("latin-1"))

    assert response.status_code == 422
    assert validators.IMPORT_NOT_UTF8 in text(response)
    assert not ImportedProduct.objects.exists()


def test_a_binary_file_is_refused(signed_in):
    response = upload(signed_in, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", name="logo.png")

    assert response.status_code == 422
    assert validators.IMPORT_NOT_TEXT in text(response)


def test_a_file_over_the_size_limit_is_refused_unread(signed_in, settings):
    settings.DATA_IMPORT_MAX_BYTES = 64

    response = upload(signed_in, PRODUCTS)

    assert response.status_code == 422
    assert validators.import_too_large_message(len(PRODUCTS), 64) in text(response)
    assert "The file is 109 bytes: the limit is 64 bytes per upload." in text(response)
    assert not ImportedProduct.objects.exists()


def test_a_file_over_the_row_limit_is_refused(signed_in, settings):
    settings.DATA_IMPORT_MAX_ROWS = 2

    response = upload(signed_in, PRODUCTS)

    assert response.status_code == 422
    assert validators.IMPORT_TOO_MANY_ROWS.format(limit="2") in text(response)
    assert not ImportedProduct.objects.exists()


def test_the_default_limits_are_2_mb_and_5000_rows(settings):
    assert settings.DATA_IMPORT_MAX_BYTES == 2 * 1024 * 1024
    assert settings.DATA_IMPORT_MAX_ROWS == 5000


def test_5000_rows_import_in_one_go(merchant):
    rows = "".join(f"SKU-{n},Item {n},{n % 100}.25,{n}\n" for n in range(5000))
    record = data_import.data_import_run(
        merchant=merchant,
        kind="products",
        upload=csv_file("sku,name,price,quantity\n" + rows),
        actor=merchant.user,
    )

    assert (record.status, record.created_count) == ("completed", 5000)
    assert ImportedProduct.objects.filter(merchant=merchant).count() == 5000


def test_many_problems_are_kept_up_to_a_hundred(merchant):
    rows = "".join(f"S-{n},Item,abc,1\n" for n in range(150))
    record = data_import.data_import_run(
        merchant=merchant,
        kind="products",
        upload=csv_file("sku,name,price,quantity\n" + rows),
        actor=merchant.user,
    )

    assert len(record.errors) == 101
    assert record.errors[-1] == data_import.IMPORT_MORE_ERRORS.format(count=50)


@pytest.mark.parametrize(
    "data",
    [{}, {"kind": "orders"}, {"kind": "products"}],
    ids=["nothing", "unknown-kind", "no-file"],
)
def test_bad_form_input_is_a_422(signed_in, data):
    response = signed_in.post(PAGE, data)

    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert not DataImport.objects.exists()


def test_an_htmx_upload_with_problems_is_a_retargeted_422(signed_in):
    response = upload(signed_in, "sku,name,price,quantity\nA,B,x,1\n", HTTP_HX_REQUEST="true")

    assert response.status_code == 422
    assert response["HX-Retarget"] == "#import-main"
    assert response.content.decode().strip().startswith('<section id="import-main">')


# --- finishing or skipping the step -----------------------------------------------------------


def test_skip_this_step(signed_in, merchant):
    response = signed_in.post(SKIP, follow=True)

    assert IMPORTS_SKIPPED in text(response)
    assert step(merchant).status == StepStatus.SKIPPED


def test_skip_after_a_refused_import_works_too(signed_in, merchant):
    upload(signed_in, "sku,name,price,quantity\nA,B,x,1\n")

    signed_in.post(SKIP)

    assert step(merchant).status == StepStatus.SKIPPED


def test_done_with_imports_needs_an_import(signed_in, merchant):
    refused = signed_in.post(DONE)
    upload(signed_in, PRODUCTS)
    done = signed_in.post(DONE, follow=True)

    assert refused.status_code == 422
    assert data_import.IMPORT_DONE_NEEDS_AN_IMPORT in text(refused)
    assert IMPORTS_DONE in text(done)
    assert step(merchant).status == StepStatus.COMPLETED


def test_a_finished_step_is_not_finished_twice(signed_in, merchant):
    signed_in.post(SKIP)

    response = signed_in.post(DONE)

    assert response.status_code == 409
    assert steps.STEP_ALREADY_DONE in text(response)


def test_the_step_waits_for_step_7(client, journey_steps):
    merchant = merchant_at_setup()
    client.force_login(merchant.user)

    page = client.get(PAGE)
    refused = upload(client, PRODUCTS)
    skipped = client.post(SKIP)

    assert "Step 8 opens once step 7 (Verify owners and get paid out) is completed." in (
        text(page)
    )
    assert refused.status_code == skipped.status_code == 409
    assert not ImportedProduct.objects.exists()
    assert step(merchant).status == StepStatus.PENDING


# --- roles and queries ------------------------------------------------------------------------


@pytest.mark.parametrize("make_user", [AeUserFactory, IcUserFactory, OpsUserFactory])
def test_staff_cannot_use_the_merchant_page(client, make_user):
    client.force_login(make_user())
    assert client.get(PAGE).status_code == 403
    assert upload(client, PRODUCTS).status_code == 403
    assert client.post(SKIP).status_code == 403
    assert client.post(DONE).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    assert client.get(PAGE).url == f"{reverse('accounts:login')}?next={PAGE}"


def test_the_page_costs_the_same_queries_for_2_or_25_imports(signed_in, merchant):
    def queries():
        with CaptureQueriesContext(connection) as context:
            assert signed_in.get(PAGE).status_code == 200
        return len(context.captured_queries)

    for _ in range(2):
        DataImportFactory(merchant=merchant)
    few = queries()
    for _ in range(23):
        DataImportFactory(merchant=merchant, status="failed", errors=["Line 2: name is missing"])

    assert queries() == few


@hypothesis_settings(max_examples=200, deadline=None)
@given(content=st.binary(max_size=400), kind=st.sampled_from(["products", "customers"]))
def test_any_bytes_are_read_without_crashing(content, kind):
    parsed = validators.parse_import_csv(kind, content, max_rows=50)

    assert bool(parsed.errors) != bool(parsed.rows)


@hypothesis_settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.text(max_size=12), min_size=4, max_size=5), min_size=1, max_size=8
    )
)
def test_any_text_rows_give_rows_or_line_errors(rows):
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows([["sku", "name", "price", "quantity"], *rows])
    parsed = validators.parse_import_csv("products", out.getvalue().encode(), max_rows=50)

    assert bool(parsed.errors) != bool(parsed.rows)
    for row in parsed.rows:
        assert row["price"] >= 0 and row["quantity"] >= 0
