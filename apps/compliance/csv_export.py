"""CSV downloads of the compliance pages: cells a spreadsheet never runs as a formula, and a
streamed response so an export of many rows holds one chunk in memory at a time."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value) -> str:
    """Text typed by merchants and staff ends up here: a legal name or a reason starting
    with "=" stays text (OWASP CSV injection: prefix a quote)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.lstrip(" ")[:1] in FORMULA_STARTS else text


class _Echo:
    def write(self, value):
        return value


def csv_response(*, filename: str, header: list[str], rows) -> StreamingHttpResponse:
    """Stream `rows` (iterables of values) as a CSV attachment named `filename`-<stamp>.csv."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([cell(value) for value in row])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
