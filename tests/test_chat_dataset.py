"""The labeled chats `make eval SET=chat` asks are sound: a wrong label would make every
figure lie.

The data is written by tests/data/make_chat_dataset.py; these checks read the
committed files, as the harness does.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from types import ModuleType

import pytest

from pipeline.schemas import IngestRequest
from tests.labelled_sets import (
    assert_every_label_names_an_event_of_the_question_s_user,
    assert_ids_are_unique,
)

DATA = Path(__file__).resolve().parent / "data"
KINDS = {"single", "when", "multi", "preference", "none"}
SHARE = {  # of all questions, roughly as the set was asked for
    "single": (0.35, 0.45),
    "when": (0.15, 0.25),
    "multi": (0.10, 0.20),
    "preference": (0.10, 0.20),
    "none": (0.05, 0.15),
}
# fmt: off
STOP = {  # words too common to tell a question's wording from another's
    "the", "and", "for", "you", "your", "did", "what", "when", "which", "where", "who", "how",
    "that", "this", "with", "have", "has", "was", "were", "are", "from", "into", "about",
    "mine", "our", "their", "they", "them", "its", "not", "but", "any", "all", "can", "get",
    "got", "does", "doing", "done", "going", "been", "will", "just", "also", "then", "than",
    "there", "here", "would", "could", "should",
}
# fmt: on


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) >= 3 and w not in STOP}


@pytest.fixture(scope="module")
def memories() -> dict:
    return json.loads((DATA / "chat" / "memories.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return json.loads((DATA / "chat" / "questions.json").read_text(encoding="utf-8"))["questions"]


@pytest.fixture(scope="module")
def chats(memories: dict) -> dict[str, list[dict]]:
    """Each user's turns, in the order of the files (time order, checked below)."""
    turns: dict[str, list[dict]] = defaultdict(list)
    for e in memories["events"]:
        turns[e["user_id"]].append(e)
    return dict(turns)


@pytest.fixture(scope="module")
def events(memories: dict) -> dict[str, dict]:
    return {e["event_id"]: e for e in memories["events"]}


def sessions(turns: list[dict]) -> list[list[dict]]:
    """The turns of one chat cut where more than six hours pass (the harness's cut)."""
    cut: list[list[dict]] = []
    for e in turns:
        if not cut or at(e) - at(cut[-1][-1]) > timedelta(hours=6):
            cut.append([])
        cut[-1].append(e)
    return cut


def test_the_dataset_is_as_large_and_as_varied_as_the_issue_asks(
    memories: dict, questions: list[dict], chats: dict[str, list[dict]]
) -> None:
    assert 6 <= len(memories["users"]) <= 8
    assert 3000 <= len(memories["events"]) <= 4500
    assert {e["type"] for e in memories["events"]} == {"message"}
    for user_id, turns in chats.items():
        assert 400 <= len(turns) <= 600, user_id
        assert 15 <= len(sessions(turns)) <= 30, user_id
        assert (at(turns[-1]) - at(turns[0])).days >= 90, user_id
    assert 700 <= len(questions) <= 1000
    per_user = Counter(q["user_id"] for q in questions)
    assert set(per_user) == set(chats)
    assert all(100 <= n <= 150 for n in per_user.values()), per_user
    kinds = Counter(q["kind"] for q in questions)
    assert set(kinds) == KINDS
    for kind, (lo, hi) in SHARE.items():
        assert lo <= kinds[kind] / len(questions) <= hi, (kind, kinds)


def test_each_user_has_one_long_chat_with_the_friend_of_their_traits(
    memories: dict, chats: dict[str, list[dict]]
) -> None:
    for user in memories["users"]:
        traits, turns = user["traits"], chats[user["user_id"]]
        speakers = Counter(e["content"].split(": ", 1)[0] for e in turns)
        assert set(speakers) == {traits["name"], traits["friend"]}, user["user_id"]
        assert all(e["content"].split(": ", 1)[1].strip() for e in turns)
        # ids number the turns in time order
        ids = [f"{user['user_id']}_t{n:04d}" for n in range(1, len(turns) + 1)]
        assert [e["event_id"] for e in turns] == ids
        assert all(at(a) < at(b) for a, b in pairwise(turns))
        for session in sessions(turns):
            # a session is one day, its turns minutes apart, both people talking
            assert len({at(e).date() for e in session}) == 1
            assert all(at(b) - at(a) <= timedelta(minutes=30) for a, b in pairwise(session))
            assert len({e["content"].split(": ", 1)[0] for e in session}) == 2
            assert len({e["source"] for e in session}) == 1
        starts = [at(s[0]) for s in sessions(turns)]
        assert all(b - a >= timedelta(days=2) for a, b in pairwise(starts))


def test_ids_are_unique(memories: dict, questions: list[dict]) -> None:
    assert_ids_are_unique(memories, questions)


def test_every_label_names_an_event_of_the_question_s_user(
    memories: dict, questions: list[dict]
) -> None:
    assert_every_label_names_an_event_of_the_question_s_user(memories, questions)


def test_each_kind_is_labeled_with_the_turns_it_needs(
    questions: list[dict], events: dict[str, dict]
) -> None:
    """single, when, preference: one turn or two adjacent ones (a short reply and the turn
    it answers); multi: two or three turns over two sessions or more; none: no turn."""

    def number(event_id: str) -> int:
        return int(event_id.rsplit("_t", 1)[1])

    for q in questions:
        ids = q["event_ids"]
        assert ids == sorted(set(ids)), q["qid"]
        numbers = [number(e) for e in ids]
        if q["kind"] == "none":
            assert ids == [], q["qid"]
            assert q["answer"] == "", q["qid"]
        elif q["kind"] == "multi":
            assert 2 <= len(ids) <= 3, q["qid"]
            assert len({at(events[e]).date() for e in ids}) >= 2, q["qid"]
        else:
            assert 1 <= len(ids) <= 2, q["qid"]
            assert numbers == list(range(numbers[0], numbers[0] + len(ids))), q["qid"]
        assert q["answer"] or q["kind"] == "none", q["qid"]


def test_an_answer_is_said_in_its_turns(questions: list[dict], events: dict[str, dict]) -> None:
    for q in questions:
        if q["kind"] in {"single", "multi", "preference"}:
            said = " ".join(events[e]["content"] for e in q["event_ids"]).lower()
            assert q["answer"].lower() in said, q["qid"]


def test_a_when_question_is_answered_by_its_session_s_date_not_its_text(
    questions: list[dict], events: dict[str, dict]
) -> None:
    for q in (q for q in questions if q["kind"] == "when"):
        for e in q["event_ids"]:
            assert events[e]["timestamp"][:10] == q["answer"], q["qid"]
            assert q["answer"] not in events[e]["content"], q["qid"]
        assert q["answer"] not in q["question"], q["qid"]
        datetime.strptime(q["answer"], "%Y-%m-%d")


def test_questions_are_phrased_both_with_the_turns_words_and_without(
    questions: list[dict], events: dict[str, dict]
) -> None:
    """Neither lexical nor dense matching should win everywhere: within each kind, some
    questions share two content words or more with their turns, some at most one."""
    for kind in KINDS - {"none"}:
        overlaps = [
            len(
                words(q["question"]) & words(" ".join(events[e]["content"] for e in q["event_ids"]))
            )
            for q in questions
            if q["kind"] == kind
        ]
        few = sum(n <= 1 for n in overlaps) / len(overlaps)
        assert 0.1 <= few <= 0.9, (kind, few)


def test_every_event_is_accepted_by_the_ingest_contract(memories: dict) -> None:
    by_source: dict[tuple[str, str], list[dict]] = {}
    for e in memories["events"]:
        item = {k: e[k] for k in ("event_id", "type", "timestamp", "content")}
        by_source.setdefault((e["user_id"], e["source"]), []).append(item)
    for (user_id, source), items in by_source.items():
        IngestRequest.model_validate({"user_id": user_id, "source": source, "events": items})


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_chat", DATA / "make_chat_dataset.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_chat"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["make_chat"]
    return module


def test_the_generator_writes_exactly_the_committed_files() -> None:
    module = load_generator()
    made = module.build()
    again = module.build()
    assert made == again
    for data, name in zip(made, ("memories.json", "questions.json"), strict=True):
        assert module.dump(data) == (DATA / "chat" / name).read_text(encoding="utf-8"), name
