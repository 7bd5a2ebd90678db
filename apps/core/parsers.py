"""The JSON parser of the whole API (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): DRF's, with
two refusals that turn hostile bodies into a 400 instead of a 500.

- Nesting deeper than MAX_JSON_DEPTH is refused before parsing: json.loads recurses once per
  level and raises RecursionError on deep input (2,000 levels of `[`), which DRF does not
  catch. No body of ours nests beyond a few levels.
- A NUL character in a string (`\\u0000`) is refused: PostgreSQL cannot store it in text or
  jsonb, nor compare with it, so the query fails.
"""

import re

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

MAX_JSON_DEPTH = 32
JSON_TOO_DEEP = f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
JSON_HAS_NUL = "The JSON body contains a NUL character (\\u0000), which cannot be stored."
JSON_NOT_TEXT = "The JSON body is not valid text in its declared encoding."

# A JSON string (escapes included) and the brackets that open or close a level. The string
# pattern has no nested repetition, so it runs in linear time even on an unclosed quote.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_too_deep(text: str, *, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `text` opens more than `limit` arrays or objects inside each other. Counted
    on the text, without parsing or recursion; brackets inside strings do not count. Text
    that is not JSON at all is left for the parser to refuse."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > limit:
            return True
    return False


def contains_nul(value) -> bool:
    """Whether a parsed JSON value holds a NUL character in any key or string."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(JSON_NOT_TEXT) from exc
        if json_too_deep(text):
            raise ParseError(JSON_TOO_DEEP)
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if contains_nul(data):
            raise ParseError(JSON_HAS_NUL)
        return data
