"""Answering a question about a user from their memories, and only from them.

The sources are the fused retrieval's best chunks. With no LLM configured (or
when it fails or is slow), the answer is extractive: the sentence of the sources
that best covers the question's words, prefixed with its date and source, plus
a second one from another memory when it covers words the first did not (a
question that needs two events). Extractive answers cannot state what the
sources do not say, and they are deterministic. When nothing retrieved is close
enough to the question, the answer says so rather than quoting a near miss.

With an OpenAI-compatible endpoint configured, the answer is generated from the
numbered sources at temperature 0, told to cite them and to say when they do
not hold the answer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from pipeline import llm
from pipeline.retrieval.search import Found, search
from pipeline.runtime import Runtime
from pipeline.schemas import ChunkOut, ChunksRequest, QueryRequest, QueryResponse

log = logging.getLogger("persona.answers")

NO_ANSWER = "Nothing in this user's memories answers that."
# A source is "about" the question when the dense side finds it this similar (MiniLM
# cosines: paraphrases ~0.5-0.8, same topic ~0.3-0.5, unrelated below ~0.2), or when the
# lexical side matched it and it is not far off in meaning.
MIN_COSINE = 0.30
MIN_COSINE_WITH_WORDS = 0.15
EXTRACT_FROM = 3  # sources whose sentences are considered

# Function words that say nothing about which sentence answers (the question's shape
# words "when", "what"... are kept out too: every sentence would match them).
_STOP = frozenset(
    """a an the and or but if then of to in on at by for with about from into over after
    before is are was were be been being am do does did have has had i me my mine we our
    you your he him his she her they them their it its this that these those what which
    who whom whose when where why how there here not no yes any some all can could will
    would shall should may might must""".split()  # noqa: SIM905 - a word list reads best so
)
_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

SYSTEM_PROMPT = (
    "You answer questions about one person using only their own memories, given as "
    "numbered sources with dates. Use only what the sources say. Cite every source you "
    "use as [n]. If the sources do not contain the answer, say that the memories do not "
    "say, and nothing else. Answer in one to three short sentences."
)


def words(text: str) -> set[str]:
    """Content words, lowercased, possessives folded ("Maya's" -> "maya")."""
    out = set()
    for w in _WORD.findall(text.lower()):
        w = re.sub(r"['\u2019]s$", "", w)
        if w not in _STOP and len(w) > 1:
            out.add(w)
    return out


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def supported(found: Found) -> bool:
    if found.cosine is not None and found.cosine >= MIN_COSINE:
        return True
    return found.bm25 is not None and (found.cosine or 0.0) >= MIN_COSINE_WITH_WORDS


def cite(chunk: ChunkOut, sentence: str) -> str:
    where = chunk.source if chunk.type in {"message", "event"} else f"{chunk.source} {chunk.type}"
    if chunk.timestamp is None:
        return f"From {where}: {sentence}"
    return f"On {chunk.timestamp:%Y-%m-%d} ({where}): {sentence}"


@dataclass(frozen=True)
class _Candidate:
    score: float
    rank: int
    covered: frozenset[str]
    chunk: ChunkOut
    sentence: str


def extractive(question: str, found: list[Found]) -> str:
    """The one or two source sentences that best answer `question`, dated; deterministic."""
    usable = [f for f in found if supported(f)][:EXTRACT_FROM]
    if not usable:
        return NO_ANSWER
    asked = words(question)
    candidates = []
    for rank, f in enumerate(usable):
        for sentence in sentences(f.body):
            covered = frozenset(asked & words(sentence))
            # Coverage of the question first; the source's rank breaks ties and carries a
            # source whose words differ from the question's (a paraphrase found densely).
            score = len(covered) + 1.0 / (rank + 2)
            candidates.append(_Candidate(score, rank, covered, f.chunk, sentence))
    candidates.sort(key=lambda c: (-c.score, c.rank, c.sentence))
    best = candidates[0]
    answer = [cite(best.chunk, best.sentence)]
    rest = asked - best.covered
    second = next(
        (
            c
            for c in candidates
            if c.chunk.chunk_id != best.chunk.chunk_id and c.covered & rest and len(c.covered) > 1
        ),
        None,
    )
    if second is not None:
        answer.append(cite(second.chunk, second.sentence))
    return " ".join(answer)


def prompt(question: str, sources: list[ChunkOut]) -> llm.Prompt:
    numbered = "\n".join(f"[{n}] {c.text}" for n, c in enumerate(sources, start=1))
    return llm.Prompt(system=SYSTEM_PROMPT, user=f"Sources:\n{numbered}\n\nQuestion: {question}")


def answer(runtime: Runtime, org_id: int, request: QueryRequest) -> QueryResponse:
    """`request.question` answered from the user's best memories, with those memories.

    Raises UserNotFound for an unknown user. Never fails because of the LLM: its
    errors and timeouts fall back to the extractive answer.
    """
    found = search(
        runtime,
        org_id,
        ChunksRequest(
            user_id=request.user_id,
            query=request.question,
            top_k=request.top_k,
            freshness_days=request.freshness_days,
        ),
    )
    sources = [f.chunk for f in found]
    text = extractive(request.question, found)
    if runtime.settings.llm.enabled and any(supported(f) for f in found):
        try:
            text = llm.complete(runtime.settings.llm, prompt(request.question, sources))
        except llm.LLMUnavailable as exc:
            log.warning("LLM unavailable, answering extractively: %s", exc)
    return QueryResponse(user_id=request.user_id, answer=text, sources=sources)
