"""The OpenAPI document, fuzzed against the running gateway with Schemathesis.

For every operation, requests generated from the document itself (valid ones,
and ones that break it) are sent over HTTP with a key that may do everything,
and each answer is checked: never a server error, a status the document lists
for the operation, and a body in the shape the document gives. A worker runs,
so reads are answered. The examples per operation are bounded to keep the suite
within its time; the failures of every operation are reported together.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case

from pipeline import keys
from pipeline.db.engine import session_scope

EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture(scope="module")
def admin_key(engine) -> str:
    with session_scope(engine) as session:
        return keys.create_key(
            session, f"fuzz-{uuid.uuid4().hex[:8]}", ["read_write", "admin"], "fuzz"
        )


def exercise(strategy: st.SearchStrategy, gateway: str, key: str) -> int:
    """Send `EXAMPLES` cases of `strategy` and check each answer; how many were sent."""
    sent = 0

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.generate],  # no shrinking: a failure is reported as found
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Case) -> None:
        nonlocal sent
        response = case.call(base_url=gateway, headers={"X-API-Key": key}, timeout=30)
        sent += 1
        case.validate_response(response, checks=CHECKS)

    check()
    return sent


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_every_operation_answers_as_documented(
    gateway: str, worker, admin_key: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway}/openapi.json")
    failures: list[str] = []
    tried = 0
    for found in schema.get_all_operations():
        operation = found.ok()
        try:
            tried += exercise(operation.as_strategy(generation_mode=mode), gateway, admin_key)
        except Unsatisfiable:  # nothing to break (no parameters, no body): nothing to send
            continue
        except Exception as exc:  # every operation's failure, not only the first
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    print(f"\nschemathesis ({mode.value}): {tried} requests, {len(failures)} failing operations")
    assert failures == []
