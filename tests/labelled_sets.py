"""Checks every labelled set (`tests/data/eval`, `tests/data/chat`) must pass: the rules of
a set `bench.eval` can score, written once for all of them."""

from __future__ import annotations


def assert_ids_are_unique(memories: dict, questions: list[dict]) -> None:
    event_ids = [e["event_id"] for e in memories["events"]]
    assert len(event_ids) == len(set(event_ids))
    user_ids = [u["user_id"] for u in memories["users"]]
    assert len(user_ids) == len(set(user_ids))
    qids = [q["qid"] for q in questions]
    assert len(qids) == len(set(qids))
    texts = [(q["user_id"], q["question"]) for q in questions]
    assert len(texts) == len(set(texts))


def assert_every_label_names_an_event_of_the_question_s_user(
    memories: dict, questions: list[dict]
) -> None:
    owner = {e["event_id"]: e["user_id"] for e in memories["events"]}
    users = {u["user_id"] for u in memories["users"]}
    wrong = [
        (q["qid"], e) for q in questions for e in q["event_ids"] if owner.get(e) != q["user_id"]
    ]
    assert wrong == []
    assert {q["user_id"] for q in questions} <= users
    assert {e["user_id"] for e in memories["events"]} <= users
