"""The profile's traits as short sentences: who the user is, where, and how to reach them.

Traits are free JSON (seed 000's `traits`, seed 003's `metadata`, one column):
this module knows the common names for each idea and renders what it finds in
a fixed order, so the same traits always give the same sentences whatever
order their keys were sent in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pipeline.summaries import purposes

NAME_KEYS = ("name", "full_name", "display_name")
ROLE_KEYS = ("role", "title", "job_title", "occupation", "position")
COMPANY_KEYS = ("company", "organization", "employer")
NOTE_KEYS = ("notes", "bio", "about", "description")
TIMEZONE_KEYS = ("timezone", "time_zone", "tz")
LOCALE_KEYS = ("locale", "language")
LOCATION_KEYS = ("location", "city", "country")
HANDLES = (
    ("github_handle", "GitHub"),
    ("twitter_handle", "Twitter"),
    ("x_handle", "X"),
    ("linkedin_url", "LinkedIn"),
    ("website", "web"),
    ("personal_urls", "web"),
)
# Never echoed into a summary: contact details and secrets are not context an agent needs.
PRIVATE_KEYS = frozenset(
    ("email", "phone", "phone_number", "address", "password", "token", "api_key", "ssn")
)
KNOWN = frozenset(
    (
        *NAME_KEYS,
        *ROLE_KEYS,
        *COMPANY_KEYS,
        *NOTE_KEYS,
        *TIMEZONE_KEYS,
        *LOCALE_KEYS,
        *LOCATION_KEYS,
        *(k for k, _ in HANDLES),
        "first_name",
        "last_name",
    )
)
MAX_OTHER = 6


def digest(traits: dict[str, Any]) -> str:
    """A short hash of the traits, order-free: part of every summary's data version."""
    canonical = json.dumps(traits, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = " ".join(str(value).split())
        return text or None
    return None


def _first(traits: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if (text := _text(traits.get(key))) is not None:
            return text
    return None


def name_of(traits: dict[str, Any], user_id: str) -> str:
    """The user's name as the traits give it, else their id."""
    name = _first(traits, NAME_KEYS)
    if name is None:
        parts = [_text(traits.get("first_name")), _text(traits.get("last_name"))]
        name = " ".join(p for p in parts if p) or None
    return name or user_id


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _notes(traits: dict[str, Any]) -> list[str]:
    for key in NOTE_KEYS:
        value = traits.get(key)
        if isinstance(value, list):
            texts = [t for t in (_text(v) for v in value) if t]
            if texts:
                return [
                    _sentence(f"Notes: {t}") if i == 0 else _sentence(t)
                    for i, t in enumerate(texts)
                ]
        elif (text := _text(value)) is not None:
            return [_sentence(f"Notes: {text}")]
    return []


def _handles(traits: dict[str, Any]) -> str | None:
    found: list[str] = []
    for key, label in HANDLES:
        value = traits.get(key)
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = _text(v)
            if text and not any(text in f for f in found):
                found.append(text if label == "web" else f"{label} {text}")
    return f"Online: {', '.join(found)}." if found else None


def _place(traits: dict[str, Any]) -> str | None:
    parts = []
    if location := _first(traits, LOCATION_KEYS):
        parts.append(f"based in {location}")
    if tz := _first(traits, TIMEZONE_KEYS):
        parts.append(f"time zone {tz}")
    if locale := _first(traits, LOCALE_KEYS):
        parts.append(f"locale {locale}")
    if not parts:
        return None
    text = ", ".join(parts)
    return _sentence(text[0].upper() + text[1:])


def _other(traits: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in sorted(traits):
        if key in KNOWN or key.lower() in PRIVATE_KEYS or len(out) >= MAX_OTHER:
            continue
        text = _text(traits[key])
        if text is not None and len(text) <= 200:
            label = key.replace("_", " ").strip().capitalize()
            out.append(_sentence(f"{label}: {text}"))
    return out


def sentences(traits: dict[str, Any], user_id: str, groups: tuple[str, ...]) -> list[str]:
    """The trait sentences a purpose asks for (`groups`), most identifying first."""
    name = name_of(traits, user_id)
    role = _first(traits, ROLE_KEYS)
    company = _first(traits, COMPANY_KEYS)
    out: list[str] = []
    for group in groups:
        if group == purposes.NAME:
            who = name
            if purposes.ROLE in groups and (role or company):
                at = f" at {company}" if company else ""
                who = f"{name}, {role}{at}" if role else f"{name}, works at {company}"
            out.append(_sentence(f"User: {who}"))
        elif group == purposes.NOTES:
            out += _notes(traits)
        elif group == purposes.PLACE and (place := _place(traits)):
            out.append(place)
        elif group == purposes.HANDLES and (handles := _handles(traits)):
            out.append(handles)
        elif group == purposes.OTHER:
            out += _other(traits)
    return out
