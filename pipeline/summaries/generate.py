"""A summary written by the configured LLM from the facts the extractive path selected.

The model sees only those facts (traits and the purpose's most salient facts, in
order), at temperature 0, and its text is cut to `max_chars` between sentences
like the extractive one. The prompt is hashed: a stored summary whose prompt is
the same is reused without asking the model again, which is what keeps an LLM
summary byte-identical for the same data even where a server is not
deterministic. Any failure raises `llm.LLMUnavailable`; the caller serves the
extractive text instead.
"""

from __future__ import annotations

import hashlib

from pipeline import llm
from pipeline.config import LLMSettings
from pipeline.summaries import writing
from pipeline.summaries.purposes import Purpose

SYSTEM_PROMPT = (
    "You write a short summary of one person for another AI agent to read before it acts "
    "for them. Use only the facts given, keep names, times and places exactly as given, "
    "and never add anything. Write plain sentences in the third person: no lists, no "
    "markdown, no preamble. Lead with what matters most for the stated purpose."
)
INPUT_FACTOR = 2  # the model may see twice the text it may write, at most the largest summary
MAX_INPUT_CHARS = 5000


def prompt(purpose: Purpose, sentences: list[str], max_chars: int) -> llm.Prompt:
    given = writing.fit(sentences, min(MAX_INPUT_CHARS, INPUT_FACTOR * max_chars))
    facts = "\n".join(f"- {s}" for s in given)
    return llm.Prompt(
        system=SYSTEM_PROMPT,
        user=(
            f"Purpose: {purpose.key}: {purpose.about}.\n"
            f"Length: at most {max_chars} characters.\n"
            f"Facts:\n{facts}"
        ),
    )


def input_hash(generator: str, request: llm.Prompt) -> str:
    """What the stored text was generated from: the model (in `generator`) and the prompt."""
    raw = f"{generator}\n{request.system}\n{request.user}"
    return hashlib.sha256(raw.encode()).hexdigest()


def generate(settings: LLMSettings, request: llm.Prompt, max_chars: int) -> str:
    """The model's summary, whitespace collapsed and cut to `max_chars` between sentences."""
    text = " ".join(llm.complete(settings, request).split())
    return writing.compose(writing.split_sentences(text), max_chars)
