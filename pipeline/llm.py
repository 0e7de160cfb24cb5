"""Generation through an OpenAI-compatible chat-completions endpoint, when one is configured.

The LLM is an optional edge of the system: answers and summaries are always
computable without it, so every failure here (connection, timeout, HTTP error,
an empty answer) is one exception, `LLMUnavailable`, that callers turn into
their extractive fallback. No retries: a slow model is dropped, not waited for
twice. Temperature 0 and a fixed seed ask the server for the same text for the
same prompt; callers cache the text too, since not every server honours them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import openai

from pipeline.config import LLMSettings


class LLMUnavailable(Exception):
    """No usable text came back; the caller falls back to what it can build itself."""


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


@lru_cache(maxsize=4)
def _client(base_url: str, api_key: str | None, timeout_s: float) -> openai.OpenAI:
    # One client (one connection pool) per endpoint and process.
    return openai.OpenAI(
        base_url=base_url, api_key=api_key or "unused", timeout=timeout_s, max_retries=0
    )


def complete(settings: LLMSettings, prompt: Prompt) -> str:
    """The model's answer to `prompt`, stripped; `LLMUnavailable` on any failure."""
    if not settings.enabled:
        raise LLMUnavailable("no LLM is configured")
    base_url, model = settings.base_url or "", settings.model or ""
    client = _client(base_url, settings.api_key, settings.timeout_s)
    try:
        response = client.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            temperature=0,
            seed=0,
            max_tokens=settings.max_tokens,
        )
    except openai.OpenAIError as exc:
        raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if not response.choices:
        raise LLMUnavailable("the LLM answered no choices")
    text = (response.choices[0].message.content or "").strip()
    if not text:
        raise LLMUnavailable("the LLM answered an empty message")
    return text
