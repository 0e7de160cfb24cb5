"""Contextual embedding of chat turns, for `bench.eval --contextual`.

In a chat, a short reply ("yep, the 3rd!") means little alone: what it answers is in
the turn before. So each message is embedded after the message before it in the same
conversation (same user and source, at most `GAP_S` earlier), while the chunk that is
stored, searched by words and returned stays the turn itself.
"""

from __future__ import annotations

from datetime import datetime

GAP_S = 6 * 3600
"""Turns further apart than this belong to different sessions: no context carried over."""

Corpus = dict[str, list[tuple[str, str]]]


def _at(event: dict) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def previous_turns(events: list[dict]) -> dict[str, str]:
    """Per message event id, the content of the message before it in its conversation."""
    last: dict[tuple[str, str], dict] = {}
    before: dict[str, str] = {}
    for e in sorted(events, key=lambda e: (e["user_id"], e["source"], _at(e))):
        if e["type"] != "message":
            continue
        key = (e["user_id"], e["source"])
        prev = last.get(key)
        if prev is not None and (_at(e) - _at(prev)).total_seconds() <= GAP_S:
            before[e["event_id"]] = prev["content"]
        last[key] = e
    return before


def contextual(corpus: Corpus, events: list[dict]) -> Corpus:
    """`corpus` with each message chunk's text preceded by the turn before it: the same
    rows in the same order, so scores over either line up."""
    before = previous_turns(events)
    return {
        user: [(e, f"{before[e]}\n{text}" if e in before else text) for e, text in rows]
        for user, rows in corpus.items()
    }
