"""The labeled memories `make eval` asks are sound: a wrong label would make every figure lie.

The data is written by tests/data/make_eval_dataset.py; these checks read the
committed files, as the harness does.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.schemas import IngestRequest
from tests.labelled_sets import (
    assert_every_label_names_an_event_of_the_question_s_user,
    assert_ids_are_unique,
)

DATA = Path(__file__).resolve().parent / "data"
KINDS = {"single", "when", "multi", "preference", "none"}


@pytest.fixture(scope="module")
def memories() -> dict:
    return json.loads((DATA / "eval" / "memories.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return json.loads((DATA / "eval" / "questions.json").read_text(encoding="utf-8"))["questions"]


def test_the_dataset_is_as_large_and_as_varied_as_the_issue_asks(
    memories: dict, questions: list[dict]
) -> None:
    events = memories["events"]
    assert len(events) >= 2000
    assert len(memories["users"]) >= 5
    assert {e["type"] for e in events} >= {"message", "email", "calendar", "note"}
    stamps = sorted(datetime.fromisoformat(e["timestamp"]) for e in events)
    assert (stamps[-1] - stamps[0]).days >= 90
    assert len(questions) >= 300
    kinds = Counter(q["kind"] for q in questions)
    assert set(kinds) == KINDS
    assert min(kinds.values()) >= 40


def test_ids_are_unique(memories: dict, questions: list[dict]) -> None:
    assert_ids_are_unique(memories, questions)


def test_every_label_names_an_event_of_the_question_s_user(
    memories: dict, questions: list[dict]
) -> None:
    assert_every_label_names_an_event_of_the_question_s_user(memories, questions)


def test_each_kind_is_labeled_with_as_many_events_as_it_needs(questions: list[dict]) -> None:
    need = {"single": 1, "when": 1, "preference": 1, "multi": 2, "none": 0}
    wrong = [
        q["qid"]
        for q in questions
        if len(set(q["event_ids"])) != need[q["kind"]] or len(q["event_ids"]) != need[q["kind"]]
    ]
    assert wrong == []


def test_a_when_question_is_answered_by_its_event_s_date_not_its_text(
    memories: dict, questions: list[dict]
) -> None:
    events = {e["event_id"]: e for e in memories["events"]}
    for q in (q for q in questions if q["kind"] == "when"):
        event = events[q["event_ids"][0]]
        assert event["timestamp"].startswith(q["answer"]), q["qid"]
        assert q["answer"] not in event["content"], q["qid"]
        assert q["answer"] not in q["question"], q["qid"]


def test_every_event_is_accepted_by_the_ingest_contract(memories: dict) -> None:
    by_source: dict[tuple[str, str], list[dict]] = {}
    for e in memories["events"]:
        item = {k: e[k] for k in ("event_id", "type", "timestamp", "content")}
        by_source.setdefault((e["user_id"], e["source"]), []).append(item)
    for (user_id, source), items in by_source.items():
        IngestRequest.model_validate({"user_id": user_id, "source": source, "events": items})


def test_the_generator_writes_exactly_the_committed_files(
    memories: dict, questions: list[dict]
) -> None:
    spec = importlib.util.spec_from_file_location("make_eval", DATA / "make_eval_dataset.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_eval"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["make_eval"]
    made_memories, made_questions = module.build()
    assert json.loads(json.dumps(made_memories, ensure_ascii=False)) == memories
    assert made_questions["questions"] == questions
