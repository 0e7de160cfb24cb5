"""Plain sentences in, a summary of at most `max_chars` out, cut only between sentences.

Pure functions of their input (no clock, no randomness, no set or dict order),
which is half of what makes a summary deterministic; the other half is that
`facts` ranks with total, stable orders.
"""

from __future__ import annotations

import re

MIN_WORDS = 4  # "Thanks!" and "Hi Maya," are not facts
MIN_CHARS = 15
MAX_FACT_CHARS = 300  # longer sentences are not the short plain facts a summary wants
ELLIPSIS = "…"

# A sentence ends at . ! ? (with closing quotes or brackets) before whitespace and a
# capital, digit or opening quote; lines and bullets end sentences too.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_BULLET = re.compile(r"^\s*(?:[-*•·]+|\d+[.)])\s+")
_SPACE = re.compile(r"\s+")
_TERMINAL = (".", "!", "?", "…")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, in order, whitespace collapsed. Blank lines and bullets
    end a sentence; a single line break inside a paragraph (hard-wrapped mail) does not."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines: list[str] = []
        for line in paragraph.splitlines():
            if _BULLET.match(line) or not lines:
                lines.append(_BULLET.sub("", line))
            else:
                lines[-1] += " " + line
        for line in lines:
            for piece in _BOUNDARY.split(line):
                piece = _SPACE.sub(" ", piece).strip()
                if piece:
                    out.append(piece)
    return out


def as_fact(sentence: str) -> str | None:
    """`sentence` as a summary sentence (capitalized, ending in punctuation), or None when
    it is too short or too long to be a plain fact."""
    text = _SPACE.sub(" ", sentence).strip().strip("\"'")
    text = text.rstrip(",;:- \u2013").strip()
    if len(text) < MIN_CHARS or len(text) > MAX_FACT_CHARS or len(text.split()) < MIN_WORDS:
        return None
    if text[0].isalpha() and text[0].islower():
        text = text[0].upper() + text[1:]
    if not text.endswith(_TERMINAL):
        text += "."
    return text


def fit(sentences: list[str], max_chars: int) -> list[str]:
    """The sentences (most important first) that fit whole in `max_chars` joined by
    single spaces: one that does not fit is skipped, and a shorter later one may still."""
    kept: list[str] = []
    used = 0
    for sentence in sentences:
        cost = len(sentence) + (1 if kept else 0)
        if used + cost <= max_chars:
            kept.append(sentence)
            used += cost
    return kept


def compose(sentences: list[str], max_chars: int) -> str:
    """`sentences` joined within `max_chars`, each one whole (see `fit`), so the text never
    ends mid-sentence or mid-word.

    Only when not even one fits is the first cut, at the last space that fits, with an
    ellipsis: never mid-word, and never an empty summary for a user with data.
    """
    kept = fit(sentences, max_chars)
    if kept or not sentences:
        return " ".join(kept)
    return cut_at_word(sentences[0], max_chars)


def cut_at_word(text: str, max_chars: int) -> str:
    """The longest prefix of `text` ending at a word boundary, plus an ellipsis, within
    `max_chars`; text without any space is cut at a character (one long token)."""
    if len(text) <= max_chars:
        return text
    room = max_chars - len(ELLIPSIS)
    head = text[: room + 1]
    space = head.rfind(" ")
    head = head[:space] if space > 0 else text[:room]
    return head.rstrip(" ,;:-\u2013") + ELLIPSIS


def words_of(text: str) -> frozenset[str]:
    """Content words of a sentence, for spotting near-duplicates."""
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2)


def near_duplicate(a: frozenset[str], b: frozenset[str], threshold: float = 0.5) -> bool:
    """Two sentences say the same thing when most of their content words are shared
    (Jaccard), or one's words are all inside the other's."""
    if not a or not b:
        return a == b
    shared = len(a & b)
    return shared / len(a | b) >= threshold or shared == min(len(a), len(b))
