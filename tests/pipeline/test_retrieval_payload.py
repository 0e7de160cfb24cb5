"""A search shows each chunk from its point's payload; points written before the payload
carried the chunk's words are shown from their rows in PostgreSQL, exactly the same."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, select

from pipeline import keys
from pipeline.db.engine import session_scope
from pipeline.db.models import Chunk, Item
from pipeline.ingest import accept
from pipeline.ingest.index import run_ingest_job
from pipeline.retrieval.search import search_chunks
from pipeline.runtime import Runtime
from pipeline.schemas import ChunksRequest, IngestRequest
from pipeline.vectors import Point

SHOWN_FROM_PAYLOAD = ("text", "context", "at")


def test_points_without_words_in_their_payload_are_shown_from_their_rows(
    make_runtime: Callable[..., Runtime], engine: Engine
) -> None:
    runtime = make_runtime()
    events = [
        {
            "event_id": "dentist",
            "type": "calendar",
            # A zone other than UTC and a fraction of a second: both must survive.
            "timestamp": "2025-10-10T09:30:15.250000+02:00",
            "content": "Dentist appointment on Tuesday at 8 AM with Dr. Okafor.",
        },
        {
            "event_id": "coffee",
            "type": "message",
            "timestamp": "2025-10-11T08:00:00Z",
            "content": "My favorite coffee is a flat white with oat milk.",
        },
    ]
    with session_scope(engine) as session:
        org_id = keys.ensure_org(session, f"payload-{uuid.uuid4().hex[:8]}")
        request = IngestRequest.model_validate({"user_id": "u", "source": "gcal", "events": events})
        accepted = accept.accept(session, org_id, request, runtime.settings.ingest)
    assert run_ingest_job(runtime, accepted.job_id).status == "succeeded"
    query = ChunksRequest(user_id="u", query="when is my dentist appointment", top_k=2)
    from_payload = search_chunks(runtime, org_id, query)
    assert from_payload[0].event_id == "dentist"
    assert from_payload[0].text.startswith("2025-10-10 (gcal calendar): Dentist appointment")
    assert from_payload[0].timestamp == datetime.fromisoformat(events[0]["timestamp"])

    with session_scope(engine) as session:
        point_ids = [
            str(pid)
            for pid in session.scalars(
                select(Chunk.point_id)
                .join(Item, Item.id == Chunk.item_id)
                .where(Item.org_id == org_id)
            )
        ]
        generation = runtime.active(session)
    index, terms = runtime.index(generation), runtime.terms(generation.lexical)
    older = [
        Point(
            p.id,
            p.vector,
            {k: v for k, v in p.payload.items() if k not in SHOWN_FROM_PAYLOAD},
            terms.document(f"{p.payload['context']} {p.payload['text']}") if terms else None,
        )
        for p in index.retrieve(point_ids)
    ]
    assert len(older) == len(events)
    index.upsert(older)
    assert "text" not in index.retrieve(point_ids[:1])[0].payload

    assert search_chunks(runtime, org_id, query) == from_payload
