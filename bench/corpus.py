"""Realistic synthetic memories for benchmarks: chats, emails, calendar notes, documents.

Deterministic for a seed, so runs compare like with like.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

PEOPLE = ["Maya", "Ravi", "Chen", "Lucia", "Tom", "Amara", "Jonas", "Sofia", "Kenji", "Priya"]
PLACES = ["Lisbon", "Porto", "Berlin", "the Mission office", "Casa Lupita", "the gym", "Zoom"]
TOPICS = [
    "Q3 budget",
    "hiring plan",
    "launch checklist",
    "board deck",
    "API migration",
    "customer renewal",
    "design review",
    "offsite agenda",
    "security audit",
    "pricing page",
]
CHATS = [
    "hey {p}, can we push the {t} sync to {h}?",
    "lol yes, {p} said the same thing about the {t}",
    "I'll be at {l} around {h}, grab coffee?",
    "reminder to self: send {p} the notes on {t} before {d}",
    "ok sounds good, let's do {h} on {d}",
    "{p} is out sick today so the {t} meeting moves to {d}",
]
EMAILS = [
    "Hi {p},\n\nFollowing up on the {t}. Could you send the latest numbers by {d}? "
    "I'd like to review them before our call at {h}.\n\nThanks!",
    "Subject: {t} — next steps\n\nTeam, quick summary of today's discussion: we agreed to "
    "finalize the {t} by {d}, {p} owns the draft, and we'll meet at {l} to sign off.",
    "Dear {p}, thank you for the invitation to {l}. Unfortunately I'm traveling on {d}; "
    "could we find another time the week after?",
]
CALENDAR = [
    "{t} with {p} — {d} {h} at {l}",
    "1:1 {p} ({d}, {h}), agenda: {t}",
    "Block: deep work on {t}, {d} 9-12",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next week", "the 14th"]
HOURS = ["9 AM", "10:30", "noon", "2 PM", "3:15 PM", "5 PM"]


def _fill(rng: random.Random, template: str) -> str:
    return template.format(
        p=rng.choice(PEOPLE),
        t=rng.choice(TOPICS),
        l=rng.choice(PLACES),
        d=rng.choice(DAYS),
        h=rng.choice(HOURS),
    )


def document(rng: random.Random, paragraphs: int = 12) -> str:
    return "\n\n".join(
        " ".join(_fill(rng, rng.choice(EMAILS)).replace("\n", " ") for _ in range(3))
        for _ in range(paragraphs)
    )


def events(n: int, seed: int = 7) -> list[dict]:
    """`n` events over a year: two thirds chats, the rest emails and calendar notes."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        kind = rng.choices(["message", "email", "calendar"], weights=[6, 2, 1])[0]
        pool = {"message": CHATS, "email": EMAILS, "calendar": CALENDAR}[kind]
        when = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
        out.append(
            {
                "event_id": f"evt_{seed}_{i}",
                "type": kind,
                "timestamp": when.isoformat().replace("+00:00", "Z"),
                "content": _fill(rng, rng.choice(pool)),
            }
        )
    return out


def documents(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed + 1)
    return [
        {
            "document_id": f"doc_{seed}_{i}",
            "title": f"{rng.choice(TOPICS)} notes",
            "content": document(rng),
        }
        for i in range(n)
    ]
