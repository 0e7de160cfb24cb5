"""Summaries written by an LLM (a local fake OpenAI-compatible server), and the fallback."""

from __future__ import annotations

import time

from pipeline.summaries import writing
from tests.conftest import System
from tests.fakes.openai_server import fake_openai
from tests.helpers import org_client, wait_for
from tests.summaries import ash
from tests.summaries.ash import ingest, setup_ash, summary


def summarize_facts(body: dict) -> str:
    """A deterministic "model": one sentence of its own, then the facts it was given."""
    user = body["messages"][-1]["content"]
    facts = [line[2:] for line in user.splitlines() if line.startswith("- ")]
    return "LLM summary follows here.\n" + " ".join(facts)


def test_an_llm_writes_from_the_selected_facts_is_cached_and_falls_back(
    make_system, engine
) -> None:
    with fake_openai() as fake:
        fake.reply = summarize_facts
        system: System = make_system(
            PERSONA_LLM_BASE_URL=fake.base_url,
            PERSONA_LLM_MODEL="fake-model",
            PERSONA_LLM_TIMEOUT_S="2",
            PERSONA_SUMMARIES_LLM_RETRY_S="1",
            PERSONA_SUMMARIES_QUIET_S="600",  # no background refresh during this test
        )
        system.start_gateway()
        system.start_worker()
        http = org_client(system.url, engine)
        setup_ash(http, "ash")

        first = summary(http, "ash", purpose="work-style", max_chars=300)
        text = first.json()["summary"]
        assert text.startswith("LLM summary follows here. User: Ash Lewis")
        assert len(text) <= 300
        assert text.endswith("."), "cut between sentences like the extractive text"
        asked = fake.chat_requests()
        assert len(asked) == 1
        assert asked[0]["temperature"] == 0
        assert asked[0]["model"] == "fake-model"
        prompt = asked[0]["messages"][-1]["content"]
        assert "Purpose: work-style" in prompt
        assert "deep-focus blocks" in prompt
        assert "vegetarian" not in prompt, "only the facts selected for the purpose"
        every = set(writing.split_sentences(summarize_facts(asked[0])))
        assert set(writing.split_sentences(text)) <= every

        # The same data: the same bytes, without asking the model again.
        assert summary(http, "ash", purpose="work-style", max_chars=300).content == first.content
        # A trait this purpose does not use changes the data version but not the prompt:
        # recomputed, the stored text is reused as it is, date and ETag included.
        http.put("/register", json={"user_id": "ash", "traits": {"github_handle": "ash-2"}})
        again = summary(http, "ash", purpose="work-style", max_chars=300)
        assert again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        assert len(fake.chat_requests()) == 1

        # The model fails: the extractive text answers.
        fake.mode = "error"
        failed = summary(http, "ash", purpose="preferences").json()["summary"]
        assert failed.startswith("User: Ash Lewis.")
        assert "vegetarian" in failed
        # The model stalls past its timeout: the extractive text answers in time.
        fake.mode, fake.stall_s = "slow", 10.0
        t0 = time.monotonic()
        slow = summary(http, "ash", purpose="schedule-context").json()["summary"]
        assert time.monotonic() - t0 < 8
        assert slow.startswith("User: Ash Lewis.")
        assert "Dentist appointment on Tuesday at 8 AM." in slow

        # The model is back: a fallback is retried once `llm_retry_s` has passed.
        fake.mode = "ok"
        asked_before = len(fake.chat_requests())

        def from_the_llm() -> str | None:
            text = summary(http, "ash", purpose="preferences").json()["summary"]
            return text if text.startswith("LLM summary follows here.") else None

        back = wait_for(from_the_llm, timeout=10, what="the LLM to be asked again", poll=0.2)
        assert len(fake.chat_requests()) > asked_before
        assert "vegetarian" in back
        # New data reaches the LLM summary too.
        ingest(http, "ash", ash.events(["My favorite food is spicy Sichuan noodles."], "n"))
        newer = summary(http, "ash", purpose="preferences").json()["summary"]
        assert newer.startswith("LLM summary follows here.")
        assert "Sichuan noodles" in newer
        http.close()
