"""Validators for what a merchant types in steps 7 to 9: SSN, date of birth, routing and
account numbers. Each returns the normalised value (digits only) or raises ValidationError
with the message shown next to the field; the messages are constants so tests import them."""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.us import ssn as us_ssn

from apps.merchants.pii import digits

SSN_INVALID = "This SSN is not valid"
DOB_TOO_YOUNG = "This person must be at least 18 years old."
DOB_NOT_REAL = "Enter a real date of birth."
ROUTING_NUMBER_FORMAT = "A routing number has 9 digits."
ROUTING_NUMBER_INVALID = "This routing number is not valid: check its 9 digits."
ACCOUNT_NUMBER_INVALID = "An account number has 4 to 17 digits."

MINIMUM_AGE = 18
OLDEST_BIRTH_YEAR = 1900
# The ABA checksum weights, repeated over the routing number's three groups of three.
ABA_WEIGHTS = (3, 7, 1) * 3


def validate_ssn(value: str) -> str:
    """9 digits (dashes and spaces allowed); never area 000, 666 or 9xx, group 00 or serial
    0000 (python-stdnum's rules, which also refuse the few numbers known to be public).
    An SSN refused here never reaches the payments provider."""
    text = str(value or "").strip()
    if any(char not in "0123456789- " for char in text):
        raise ValidationError(SSN_INVALID, code="invalid_ssn")
    number = digits(text)
    try:
        us_ssn.validate(number)
    except StdnumError as exc:
        raise ValidationError(SSN_INVALID, code="invalid_ssn") from exc
    return number


def _years_between(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def validate_date_of_birth(value: date, *, today: date | None = None) -> date:
    today = today or date.today()
    if value > today or value.year < OLDEST_BIRTH_YEAR:
        raise ValidationError(DOB_NOT_REAL, code="invalid_date_of_birth")
    if _years_between(value, today) < MINIMUM_AGE:
        raise ValidationError(DOB_TOO_YOUNG, code="too_young")
    return value


def aba_checksum_ok(number: str) -> bool:
    """The ABA routing number check: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 mod 10."""
    if len(number) != 9 or not number.isdigit():
        return False
    return sum(int(d) * w for d, w in zip(number, ABA_WEIGHTS, strict=True)) % 10 == 0


def validate_routing_number(value: str) -> str:
    text = str(value or "").strip()
    if any(char not in "0123456789- " for char in text) or len(digits(text)) != 9:
        raise ValidationError(ROUTING_NUMBER_FORMAT, code="routing_number_format")
    number = digits(text)
    if set(number) == {"0"} or not aba_checksum_ok(number):
        raise ValidationError(ROUTING_NUMBER_INVALID, code="routing_number_invalid")
    return number


def validate_account_number(value: str) -> str:
    text = str(value or "").strip()
    if any(char not in "0123456789- " for char in text):
        raise ValidationError(ACCOUNT_NUMBER_INVALID, code="account_number_invalid")
    number = digits(text)
    if not 4 <= len(number) <= 17:
        raise ValidationError(ACCOUNT_NUMBER_INVALID, code="account_number_invalid")
    return number


# --- Step 8: CSV imports ----------------------------------------------------------------------

IMPORT_TOO_LARGE = (
    "The file is {size}: the limit is {limit} per upload. Split it into smaller files."
)
IMPORT_TOO_MANY_ROWS = (
    "The file has more than {limit} rows: the limit is {limit} per upload. "
    "Split it into smaller files."
)
IMPORT_NOT_UTF8 = "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."
IMPORT_NOT_TEXT = "The file is not a CSV text file. Save it as “CSV UTF-8” and upload it again."
IMPORT_EMPTY = "The file is empty: it needs a header line naming the columns, then the rows."
IMPORT_NO_ROWS = "The file has a header line but no rows to import."
IMPORT_MISSING_COLUMNS = "The header line must name the columns {expected}. Missing: {missing}."
IMPORT_UNKNOWN_COLUMNS = (
    "Unknown column(s) {unknown} in the header line: the columns are {expected}."
)
IMPORT_DUPLICATE_COLUMNS = "The header line names {columns} more than once."
IMPORT_NOT_CSV = "The file could not be read as CSV ({detail})."

ROW_MISSING = "Line {line}: {column} is missing"
ROW_NOT_A_NUMBER = "Line {line}: {column} '{value}' is not a number"
ROW_NEGATIVE = "Line {line}: {column} '{value}' must be 0 or more"
ROW_TOO_MANY_DECIMALS = "Line {line}: {column} '{value}' has more than 2 decimal places"
ROW_TOO_LARGE = "Line {line}: {column} '{value}' is too large"
ROW_NOT_WHOLE = "Line {line}: {column} '{value}' is not a whole number"
ROW_TOO_LONG = "Line {line}: {column} is longer than {limit} characters"
ROW_BAD_EMAIL = "Line {line}: email '{value}' is not a valid email address"
ROW_DUPLICATE = "Line {line}: {column} '{value}' already appears on line {first}"
ROW_FIELD_COUNT = "Line {line}: {count} values where the header names {expected} columns"

# kind → (required columns, optional columns, maximum length of each text column)
IMPORT_COLUMNS = {
    "products": (("sku", "name", "price", "quantity"), ("category",)),
    "customers": (("first_name", "last_name", "email"), ("phone",)),
}
TEXT_LIMITS = {
    "sku": 64,
    "name": 255,
    "category": 100,
    "first_name": 100,
    "last_name": 100,
    "email": 255,
    "phone": 50,
}
MAX_PRICE = Decimal("9999999999.99")
MAX_QUANTITY = 2_147_483_647
SHOWN_VALUE_LENGTH = 40
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


@dataclass
class ParsedImport:
    """What a CSV file holds: `rows` (cleaned, with their line numbers) when `errors` is
    empty; otherwise nothing may be saved."""

    rows: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    row_count: int = 0


def _shown(value: str) -> str:
    value = value.replace("\n", " ")
    return value if len(value) <= SHOWN_VALUE_LENGTH else value[: SHOWN_VALUE_LENGTH - 1] + "…"


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if size >= 1024:
        return f"{size // 1024} KB"
    return f"{size} bytes"


def import_too_large_message(size: int, limit: int) -> str:
    return IMPORT_TOO_LARGE.format(size=human_size(size), limit=human_size(limit))


def _decode(content: bytes) -> str:
    if b"\x00" in content:
        raise ValidationError(IMPORT_NOT_TEXT, code="not_text")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(IMPORT_NOT_UTF8, code="not_utf8") from exc


def _header(kind: str, names: list[str]) -> list[str]:
    required, optional = IMPORT_COLUMNS[kind]
    expected = ", ".join([*required, *(f"{name} (optional)" for name in optional)])
    columns = [name.strip().lower() for name in names]
    twice = sorted({name for name in columns if name and columns.count(name) > 1})
    if twice:
        raise ValidationError(
            IMPORT_DUPLICATE_COLUMNS.format(columns=", ".join(twice)), code="duplicate_columns"
        )
    missing = [name for name in required if name not in columns]
    if missing:
        raise ValidationError(
            IMPORT_MISSING_COLUMNS.format(expected=expected, missing=", ".join(missing)),
            code="missing_columns",
        )
    unknown = [name or "(empty)" for name in columns if name not in (*required, *optional)]
    if unknown:
        raise ValidationError(
            IMPORT_UNKNOWN_COLUMNS.format(unknown=", ".join(unknown), expected=expected),
            code="unknown_columns",
        )
    return columns


def _price(line: int, raw: str, errors: list[str]) -> Decimal | None:
    shown = {"line": line, "column": "price", "value": _shown(raw)}
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        errors.append(ROW_NOT_A_NUMBER.format(**shown))
        return None
    if value < 0:
        errors.append(ROW_NEGATIVE.format(**shown))
    elif value > MAX_PRICE:
        errors.append(ROW_TOO_LARGE.format(**shown))
    elif value != value.quantize(Decimal("0.01"), rounding=ROUND_DOWN):
        errors.append(ROW_TOO_MANY_DECIMALS.format(**shown))
    else:
        return value.quantize(Decimal("0.01"))
    return None


def _quantity(line: int, raw: str, errors: list[str]) -> int | None:
    shown = {"line": line, "column": "quantity", "value": _shown(raw)}
    if not WHOLE_NUMBER.fullmatch(raw):
        errors.append(ROW_NOT_WHOLE.format(**shown))
        return None
    value = int(raw)
    if value < 0:
        errors.append(ROW_NEGATIVE.format(**shown))
    elif value > MAX_QUANTITY:
        errors.append(ROW_TOO_LARGE.format(**shown))
    else:
        return value
    return None


def _email(line: int, raw: str, errors: list[str]) -> str | None:
    value = raw.lower()
    try:
        validate_email(value)
    except ValidationError:
        errors.append(ROW_BAD_EMAIL.format(line=line, value=_shown(raw)))
        return None
    return value


_CONVERTERS = {"price": _price, "quantity": _quantity, "email": _email}
_UNIQUE_KEY = {"products": "sku", "customers": "email"}


def _row(kind: str, line: int, values: dict[str, str], errors: list[str]) -> dict | None:
    required, optional = IMPORT_COLUMNS[kind]
    before = len(errors)
    row = {"line": line}
    for column in (*required, *optional):
        raw = (values.get(column) or "").strip()
        if not raw:
            if column in required:
                errors.append(ROW_MISSING.format(line=line, column=column))
            row[column] = ""
            continue
        limit = TEXT_LIMITS.get(column)
        if limit and len(raw) > limit:
            errors.append(ROW_TOO_LONG.format(line=line, column=column, limit=limit))
            continue
        convert = _CONVERTERS.get(column)
        row[column] = convert(line, raw, errors) if convert else raw
    return row if len(errors) == before else None


def parse_import_csv(kind: str, content: bytes, *, max_rows: int) -> ParsedImport:
    """Read and check a products or customers CSV, every row, and report each problem by
    its line in the file (the header is line 1). File-level problems (encoding, header,
    too many rows) stop the reading at once."""
    parsed = ParsedImport()
    try:
        text = _decode(content)
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = next(reader, None)
            while header is not None and not any(cell.strip() for cell in header):
                header = next(reader, None)
            if header is None:
                raise ValidationError(IMPORT_EMPTY, code="empty")
            columns = _header(kind, header)
            first_seen: dict[str, int] = {}
            key = _UNIQUE_KEY[kind]
            for values in reader:
                if not any(cell.strip() for cell in values):
                    continue
                line = reader.line_num
                parsed.row_count += 1
                if parsed.row_count > max_rows:
                    raise ValidationError(
                        IMPORT_TOO_MANY_ROWS.format(limit=f"{max_rows:,}"), code="too_many_rows"
                    )
                if len(values) != len(columns):
                    parsed.errors.append(
                        ROW_FIELD_COUNT.format(line=line, count=len(values), expected=len(columns))
                    )
                    continue
                row = _row(kind, line, dict(zip(columns, values, strict=True)), parsed.errors)
                if row is None:
                    continue
                seen = first_seen.setdefault(row[key], line)
                if seen != line:
                    parsed.errors.append(
                        ROW_DUPLICATE.format(
                            line=line, column=key, value=_shown(row[key]), first=seen
                        )
                    )
                    continue
                parsed.rows.append(row)
        except csv.Error as exc:
            raise ValidationError(
                IMPORT_NOT_CSV.format(detail=f"line {reader.line_num}: {exc}"), code="not_csv"
            ) from exc
    except ValidationError as exc:
        parsed.errors = [exc.messages[0]]
        parsed.rows = []
        return parsed
    if not parsed.row_count:
        parsed.errors = [IMPORT_NO_ROWS]
    if parsed.errors:
        parsed.rows = []
    return parsed
