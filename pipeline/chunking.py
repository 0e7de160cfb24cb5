"""Items to chunks, sized with the embedding model's own tokenizer.

The model reads at most `max_tokens` tokens ([CLS] and [SEP] included) and
ignores the rest, so no chunk may be longer: an event is one chunk when it
fits, and a document is split by `semantic-text-splitter` at the largest
boundary that fits (paragraphs, then sentences, then words), with overlap so a
fact cut at a boundary is still whole in one of the two chunks.

What is embedded is the chunk under a one-line header with its date, source and
type, so a question about "when" or "in my email" has that context to match;
the header is counted in the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from semantic_text_splitter import TextSplitter
from tokenizers import Tokenizer

OVERLAP_TOKENS = 32
TARGET_TOKENS = 128  # a document chunk is "full" from here up to its budget


@dataclass(frozen=True)
class Source:
    """What the chunker needs to know of an item."""

    kind: str
    source: str
    type: str
    title: str | None
    ts: datetime | None
    content: str


@dataclass(frozen=True)
class Piece:
    ordinal: int
    text: str  # the chunk as stored and shown
    embed_text: str  # header + chunk, what the model reads
    token_count: int  # of embed_text, special tokens included


def header(item: Source) -> str:
    """`2025-10-10 (gmail email)`, plus the title of a document: the chunk's context."""
    date = item.ts.strftime("%Y-%m-%d") if item.ts else "undated"
    title = f" {item.title}" if item.title else ""
    return f"{date} ({item.source} {item.type}){title}:"


class Chunker:
    def __init__(self, tokenizer: Tokenizer, max_tokens: int) -> None:
        """`tokenizer` must not truncate; `max_tokens` counts special tokens."""
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self._special = len(tokenizer.encode("").ids)

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)

    @lru_cache(maxsize=64)  # noqa: B019 - one chunker per process; budgets are few
    def _splitter(self, budget: int) -> TextSplitter:
        low = min(TARGET_TOKENS, budget)
        return TextSplitter.from_huggingface_tokenizer(
            self.tokenizer, capacity=(low, budget), overlap=min(OVERLAP_TOKENS, low // 2)
        )

    def split_many(self, items: list[Source]) -> list[list[Piece]]:
        """Each item's chunks in order, every `embed_text` fitting the model whole. The
        items are tokenized in one parallel batch first: most (events) fit whole and need
        nothing more."""
        wholes = [f"{header(item)} {item.content}" for item in items]
        counts = [len(e.ids) for e in self.tokenizer.encode_batch(wholes)]
        return [
            self._split(item, whole, n)
            for item, whole, n in zip(items, wholes, counts, strict=True)
        ]

    def _split(self, item: Source, whole: str, tokens: int) -> list[Piece]:
        if tokens <= self.max_tokens:
            return [Piece(0, item.content.strip(), whole, tokens)]
        head = header(item)
        # The splitter counts tokens without [CLS]/[SEP]; the header takes its share too.
        budget = self.max_tokens - self._special - (self.count(head) - self._special) - 1
        pieces = []
        for ordinal, text in enumerate(self._splitter(budget).chunks(item.content)):
            embed_text = f"{head} {text}"
            pieces.append(Piece(ordinal, text, embed_text, self.count(embed_text)))
        return pieces
