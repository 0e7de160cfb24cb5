"""Log lines: the ids of the work they belong to, as text or JSON, and nothing else a
library was given."""

from __future__ import annotations

import json
import logging

from pipeline import context
from pipeline.logs import ContextFilter, TextFormatter, json_formatter, use_json


def record(**extra: object) -> logging.LogRecord:
    made = logging.LogRecord("persona.test", logging.INFO, __file__, 1, "job %s done", ("x",), None)
    made.__dict__.update(extra)
    ContextFilter().filter(made)
    return made


def test_a_line_carries_the_ids_of_its_work_and_only_while_it_runs() -> None:
    with context.bound({"request_id": "01JC0000000000000000000000", "org": 3}):
        context.bind(user_pk=7)
        line = TextFormatter().format(record())
        assert line.endswith("job x done [request_id=01JC0000000000000000000000 org=3 user_pk=7]")
    assert "[" not in TextFormatter().format(record())


def test_json_keeps_the_ids_and_drops_what_a_library_put_in_extra() -> None:
    with context.bound({"request_id": "01JC0000000000000000000000", "job_id": "j1"}):
        line = json.loads(json_formatter().format(record(data={"kwargs": "user text"})))
    assert line["message"] == "job x done"
    assert line["request_id"] == "01JC0000000000000000000000"
    assert line["job_id"] == "j1"
    assert "data" not in line


def test_a_sent_context_keeps_well_formed_ids_only() -> None:
    sent = '{"request_id": "a b\\nforged line", "org": "3", "user_pk": 5, "job_id": "j-1", "x": 1}'
    assert context.decode(sent) == {"user_pk": 5, "job_id": "j-1"}
    assert context.decode("not json") == {}
    assert context.decode(None) == {}


def test_auto_is_text_on_a_terminal_and_json_elsewhere() -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    assert not use_json("auto", Terminal())
    assert use_json("auto", object())
    assert use_json("json", Terminal())
    assert not use_json("text", object())
