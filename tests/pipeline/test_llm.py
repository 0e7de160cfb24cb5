"""The LLM client against a real (local, fake) OpenAI-compatible HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.config import LLMSettings
from pipeline.llm import LLMUnavailable, Prompt, complete
from tests.fakes.openai_server import FakeOpenAI, fake_openai

PROMPT = Prompt(system="Answer from the sources.", user="[1] 2025-10-10 (gmail): stand-up at 2 PM")


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with fake_openai() as server:
        yield server


def settings(server: FakeOpenAI, **kw: object) -> LLMSettings:
    return LLMSettings(base_url=server.base_url, model="fake-model", **kw)  # type: ignore[arg-type]


def test_sends_the_prompt_at_temperature_zero_and_returns_the_text(llm: FakeOpenAI) -> None:
    assert complete(settings(llm), PROMPT) == "GENERATED: 2025-10-10 (gmail): stand-up at 2 PM [1]"
    (sent,) = llm.chat_requests()
    assert sent["model"] == "fake-model"
    assert sent["temperature"] == 0
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]


def test_a_server_error_is_unavailable_without_retrying(llm: FakeOpenAI) -> None:
    llm.mode = "error"
    with pytest.raises(LLMUnavailable, match="InternalServerError"):
        complete(settings(llm), PROMPT)
    assert len(llm.chat_requests()) == 1


def test_a_stalled_server_is_dropped_at_the_timeout(llm: FakeOpenAI) -> None:
    llm.mode, llm.stall_s = "slow", 3.0
    with pytest.raises(LLMUnavailable, match="Timeout"):
        complete(settings(llm, timeout_s=0.3), PROMPT)


def test_an_empty_answer_is_unavailable(llm: FakeOpenAI) -> None:
    llm.reply = lambda body: "   "
    with pytest.raises(LLMUnavailable, match="empty"):
        complete(settings(llm), PROMPT)


def test_unconfigured_is_unavailable() -> None:
    with pytest.raises(LLMUnavailable, match="no LLM"):
        complete(LLMSettings(), PROMPT)
