"""`GET /summary` end to end on the shared deployment: text, lengths, freshness, ETags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.summaries import writing
from tests.conftest import Tenant
from tests.summaries import ash
from tests.summaries.ash import ingest, setup_ash, summary

TERMINAL = (".", "!", "?")


def test_the_same_data_gives_the_same_bytes_an_etag_and_304(worker, tenant: Tenant) -> None:
    setup_ash(tenant.client)
    first = summary(tenant.reader, "ash", purpose="work-style", max_chars=1000)
    again = summary(tenant.reader, "ash", purpose="work-style", max_chars=1000)
    assert first.content == again.content
    assert first.headers["etag"] == again.headers["etag"]
    body = first.json()
    assert set(body) == {"user_id", "generated_at", "purpose", "summary"}
    assert body["user_id"] == "ash"
    assert body["purpose"] == "work-style"
    assert datetime.strptime(body["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert body["summary"].startswith("User: Ash Lewis, founder and CEO at Fastino.")
    assert "deep-focus blocks" in body["summary"]
    assert "vegetarian" not in body["summary"], "a preference is not a work style"

    etag = first.headers["etag"]
    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = tenant.reader.get(
            "/summary",
            params={"user_id": "ash", "purpose": "work-style"},
            headers={"If-None-Match": tag},
        )
        assert cached.status_code == 304, tag
        assert cached.content == b""
        assert cached.headers["etag"] == etag
    other = tenant.reader.get(
        "/summary",
        params={"user_id": "ash", "purpose": "preferences"},
        headers={"If-None-Match": etag},
    )
    assert other.status_code == 200
    assert "vegetarian" in other.json()["summary"]

    ingest(
        tenant.client,
        "ash",
        ash.events(["I now run all design reviews as async Loom videos."], "new"),
    )
    changed = tenant.reader.get(
        "/summary",
        params={"user_id": "ash", "purpose": "work-style"},
        headers={"If-None-Match": etag},
    )
    assert changed.status_code == 200, "new data, new text, new ETag"
    assert changed.headers["etag"] != etag
    assert "async Loom videos" in changed.json()["summary"]


def test_max_chars_from_50_to_5000_cuts_between_sentences(worker, tenant: Tenant) -> None:
    setup_ash(tenant.client)
    full = summary(tenant.reader, "ash", max_chars=5000).json()["summary"]
    every = set(writing.split_sentences(full))
    assert len(every) >= 12
    assert len(full) < 5000, "everything fits in 5,000 characters"
    for max_chars in (50, 61, 75, 100, 150, 220, 333, 500, 750, 1000, 1500, 2000, 3000, 4999):
        text = summary(tenant.reader, "ash", max_chars=max_chars).json()["summary"]
        assert len(text) <= max_chars
        assert text.endswith(TERMINAL), f"{max_chars}: ends mid-sentence: {text!r}"
        assert set(writing.split_sentences(text)) <= every, f"{max_chars}: a cut sentence"
    shortest = summary(tenant.reader, "ash", max_chars=50).json()["summary"]
    assert shortest == "User: Ash Lewis, founder and CEO at Fastino."


def test_freshness_days_keeps_only_recent_data(worker, tenant: Tenant) -> None:
    setup_ash(tenant.client, "fresh")
    now = datetime.now(UTC)
    recent = [
        ("Lunch with Priya today at noon at the Ferry Building.", now),
        ("Booked a table at Nopa for Thursday dinner with Ravi.", now - timedelta(days=1)),
        ("Moving my weekly planning review to Friday mornings.", now - timedelta(days=2)),
    ]
    events = [
        {"event_id": f"recent_{i}", "type": "note", "timestamp": ts.isoformat(), "content": text}
        for i, (text, ts) in enumerate(recent)
    ]
    ingest(tenant.client, "fresh", events)

    def text(days: int | None) -> str:
        params = {"max_chars": 5000} | ({"freshness_days": days} if days is not None else {})
        return summary(tenant.reader, "fresh", **params).json()["summary"]

    everything, week, day, today = text(None), text(7), text(1), text(0)
    assert "Portland" in everything
    assert "Ferry Building" in everything
    for old in ("Portland", "vegetarian", "Web Summit"):
        assert old not in week, "data older than the window is left out"
    assert all(fact in week for fact, _ in recent)
    assert "Nopa" in day
    assert "Ferry Building" in day
    assert "planning review" not in day
    assert "Ferry Building" in today
    assert "Nopa" not in today
    assert today.startswith("User: Ash Lewis, founder and CEO at Fastino."), "traits stay"


def test_a_user_without_data_gets_their_traits_and_a_free_text_focus_works(
    worker, tenant: Tenant
) -> None:
    tenant.client.put("/register", json={"user_id": "bo", "traits": {"name": "Bo Chen"}})
    assert summary(tenant.reader, "bo").json()["summary"] == "User: Bo Chen."
    setup_ash(tenant.client)
    focused = summary(tenant.reader, "ash", purpose="Travel plans").json()
    assert focused["purpose"] == "Travel plans"
    assert "Flying to Lisbon on October 14" in focused["summary"]
    assert "Postgres" not in focused["summary"]
