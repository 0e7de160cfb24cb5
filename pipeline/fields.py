"""Field types of the wire contract, each refusing what the stores cannot hold.

A value that passes these is stored as it was sent; one that does not gets a
400 naming the field, before anything is written. What they refuse:

- text PostgreSQL cannot hold: NUL (U+0000) and lone UTF-16 surrogates (which
  JSON's `\\ud800` escapes can produce, and UTF-8 cannot encode);
- JSON objects (traits, metadata) larger than `MAX_JSON_BYTES` or nested deeper
  than `MAX_JSON_DEPTH`; their numbers are finite (`parse_json`, the parser of
  every body, refuses NaN, Infinity, overflowing literals and duplicate keys);
- timestamps that are not ISO 8601 strings with a zone, or whose UTC time falls
  outside years 1 to 9999 (what Python can read back);
- user ids that are blank or hold control characters;
- row ids outside PostgreSQL's `bigint`.

Each type also says in the OpenAPI document what it accepts, so that clients
and fuzzers generate what the server takes.
"""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, Strict

MAX_JSON_BYTES = 64 * 1024
"""Largest traits or metadata object, as compact JSON: a profile, not a document store."""
MAX_JSON_DEPTH = 16
# Patterns in a syntax that ECMA 262 (the OpenAPI document), Python and pydantic's regex
# engine read alike.
NO_NUL = "^[^\\u0000]*$"
USER_ID_PATTERN = (  # not blank, no control characters
    "^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*$"
)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} appears twice in one object")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def parse_json(body: bytes | str) -> Any:
    """The JSON value of a request body; ValueError (its message for the client) if it
    is not one, holds the same key twice in an object (which parsers resolve silently,
    each its own way), or a number no store holds (NaN, Infinity, an overflow)."""
    return json.loads(
        body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite
    )


def storable(value: str) -> str:
    """`value`, if PostgreSQL can store it as text."""
    if "\x00" in value:
        raise ValueError("text must not contain the NUL character (U+0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must not contain a lone UTF-16 surrogate") from None
    return value


def _storable_json(value: Any, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"objects and lists nest at most {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, str):
        storable(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            _storable_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item, depth + 1)


def json_object(value: dict[str, Any]) -> dict[str, Any]:
    """`value`, if it is a JSON object the stores can hold and small enough to keep."""
    _storable_json(value)
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_JSON_BYTES:
        raise ValueError(f"is {size} bytes as JSON; at most {MAX_JSON_BYTES} are kept")
    return value


def _user_id(value: str) -> str:
    if not value.strip():
        raise ValueError("user_id must not be blank")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("user_id must not contain control characters")
    return value


def _iso_only(value: Any) -> Any:
    """Numbers are not timestamps here: an integer would be read as epoch seconds."""
    if not isinstance(value, str | datetime):
        raise ValueError("timestamp must be an ISO 8601 string with a zone")
    return value


def _in_utc_range(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp must fall within years 1 to 9999 in UTC") from None
    return value


Text = Annotated[str, AfterValidator(storable), Field(json_schema_extra={"pattern": NO_NUL})]
UserId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        json_schema_extra={"pattern": USER_ID_PATTERN},
    ),
    AfterValidator(storable),
    AfterValidator(_user_id),
]
ExternalId = Annotated[Text, Field(min_length=1, max_length=256)]
Label = Annotated[Text, Field(min_length=1, max_length=128)]
JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(json_object),
    Field(description=f"A JSON object of at most {MAX_JSON_BYTES // 1024} KiB."),
]
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_only),
    AfterValidator(_in_utc_range),
]
StrictInt = Annotated[int, Strict()]
MAX_ROW_ID = 2**63 - 1
"""Largest id of a row the database numbers (PostgreSQL's `bigint`)."""
RowId = Annotated[StrictInt, Field(ge=1, le=MAX_ROW_ID)]
"""A row's number as a client may send it: one the database can compare with."""
