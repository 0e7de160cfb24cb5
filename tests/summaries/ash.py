"""A synthetic user for the summary tests: Ash, whose data speaks to every purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.helpers import wait_job

TRAITS = {
    "name": "Ash Lewis",
    "role": "founder and CEO",
    "company": "Fastino",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "personal_urls": ["https://ash.example.com"],
    "github_handle": "ash-lewis",
    "twitter_handle": "@ash_csx",
    "notes": "Founder/engineer; prefers concise comms",
}

FACTS = [
    "I do my best work in deep-focus blocks from 9 to 12 PT, so please keep mornings free.",
    "Let's keep status updates async in Slack instead of a daily stand-up meeting.",
    "I batch all my 1:1s on Tuesday and Thursday afternoons.",
    "Code reviews: I'd rather get small PRs often than one huge PR at the end of the sprint.",
    "We decided to go with Postgres over Mongo after comparing the benchmark numbers.",
    "Before I approve a hire I want two independent reference checks.",
    "I'll pick the cheaper vendor unless the quality gap is obvious in the trial.",
    "I prefer window seats on long flights, never the aisle.",
    "I'm vegetarian, so please book restaurants with good veggie options.",
    "My favorite coffee is a flat white with oat milk.",
    "Stand-up moves to 2 PM starting next week.",
    "Dentist appointment on Tuesday at 8 AM.",
    "Flying to Lisbon on October 14 for the Web Summit, back on the 18th.",
    "Please keep emails short: three bullet points max, and put the ask in the first line.",
    "I don't take calls before 10 AM; text me instead.",
    "Slack is best for quick questions, email for anything that needs a decision.",
    "I started Fastino after eight years as a backend engineer at Stripe.",
    "On weekends I climb at the local bouldering gym with my sister Maya.",
    "I grew up in Portland and studied computer science at Oregon State.",
    "lol ok",
    "Stand-up is moving to 2 PM from next week.",
    "Thanks!",
    "Reminder: renew the car insurance with Allianz before November.",
    "Maya's birthday dinner is at Casa Lupita on Friday.",
]

START = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)


def events(
    facts: list[str] | None = None, prefix: str = "ash", start: datetime = START
) -> list[dict]:
    return [
        {
            "event_id": f"{prefix}_{i}",
            "type": "message",
            "timestamp": (start + timedelta(days=i)).isoformat(),
            "content": fact,
        }
        for i, fact in enumerate(FACTS if facts is None else facts)
    ]


def ingest(client: httpx.Client, user_id: str, events: list[dict]) -> None:
    """Ingest `events` and wait until they are indexed."""
    answer = client.post("/ingest", json={"user_id": user_id, "events": events})
    assert answer.status_code == 202, answer.text
    assert wait_job(client, answer.json()["job_id"])["status"] == "succeeded"


def setup_ash(client: httpx.Client, user_id: str = "ash") -> None:
    """Ash registered with their traits and all their facts indexed."""
    registered = client.put("/register", json={"user_id": user_id, "traits": TRAITS})
    assert registered.status_code == 200
    ingest(client, user_id, events())


def summary(client: httpx.Client, user_id: str, **params: object) -> httpx.Response:
    answer = client.get("/summary", params={"user_id": user_id, **params})
    assert answer.status_code == 200, answer.text
    return answer
