"""Chunks fit the model whole, keep paragraphs and sentences, and carry their context."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tokenizers import Tokenizer

from pipeline.chunking import Chunker, Piece, Source
from pipeline.local.model_build import source_dir

WHEN = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    tokenizer = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return Chunker(tokenizer, max_tokens=256)


def split(chunker: Chunker, item: Source) -> list[Piece]:
    [pieces] = chunker.split_many([item])
    return pieces


def doc(content: str) -> Source:
    return Source("document", "drive", "document", "Q3 plan", WHEN, content)


def test_an_event_is_one_chunk_with_its_date_and_source(chunker: Chunker) -> None:
    event = Source("event", "gmail", "email", None, WHEN, "Let's move stand-up to 2 PM.")
    [piece] = split(chunker, event)
    assert piece.text == "Let's move stand-up to 2 PM."
    assert piece.embed_text.startswith("2025-10-10 (gmail email):")
    assert piece.token_count == chunker.count(piece.embed_text) <= 256


def test_long_document_chunks_fit_and_cover_every_sentence(chunker: Chunker) -> None:
    sentences = [
        f"Sentence {i} says the team in Lisbon reviews budget line {i} on Thursday."
        for i in range(120)
    ]
    paragraphs = ["\n".join(sentences[i : i + 6]) for i in range(0, 120, 6)]
    pieces = split(chunker, doc("\n\n".join(paragraphs)))
    assert len(pieces) > 5
    assert [p.ordinal for p in pieces] == list(range(len(pieces)))
    for piece in pieces:
        assert chunker.count(piece.embed_text) <= 256
        assert piece.embed_text.startswith("2025-10-10 (drive document) Q3 plan:")
    joined = "\n".join(p.text for p in pieces)
    assert all(s in joined for s in sentences), "no sentence is lost or cut"


def test_chunks_end_at_sentence_boundaries(chunker: Chunker) -> None:
    text = " ".join(f"This is sentence number {i} of a long memo." for i in range(300))
    pieces = split(chunker, doc(text))
    assert all(p.text.endswith(".") for p in pieces)


def test_one_enormous_word_is_still_split_to_fit(chunker: Chunker) -> None:
    pieces = split(chunker, doc("-".join(["token"] * 3000)))  # no whitespace anywhere
    assert len(pieces) > 1
    assert all(chunker.count(p.embed_text) <= 256 for p in pieces)
