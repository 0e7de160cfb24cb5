"""BERT's encoder (all-MiniLM-L6-v2) as an ONNX graph."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.local.graphs.builder import GraphBuilder, LayerNames

NAMES = LayerNames(
    query="attention.self.query",
    key="attention.self.key",
    value="attention.self.value",
    attention_out="attention.output.dense",
    attention_norm="attention.output.LayerNorm",
)


def bert_graph(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """The BERT encoder as an ONNX model: token ids in, `last_hidden_state` out.

    Inputs `input_ids`, `attention_mask` and `token_type_ids` (int64, [batch, seq]);
    output `last_hidden_state` (float32, [batch, seq, hidden]), the tensor fastembed
    mean-pools over the attention mask. Pooling and normalization stay in fastembed so
    the graph is the same one the hub's ONNX export is.
    """
    b = GraphBuilder(weights, config)

    # Embeddings. Positions come from slicing the position table to the sequence
    # length: position ids built with Range -> Gather broke under onnxruntime's
    # graph optimizer, a plain Slice of the table does not.
    seq_len = b.node("Shape", ["input_ids"], "seq_len", start=1, end=2)
    zero = b.const("zero_1d", np.array([0], dtype=np.int64))
    table = b.weight("embeddings.position_embeddings.weight")
    positions = b.node("Slice", [table, zero, seq_len, zero], "positions")
    words = b.node("Gather", [b.weight("embeddings.word_embeddings.weight"), "input_ids"], "words")
    type_table = b.weight("embeddings.token_type_embeddings.weight")
    types = b.node("Gather", [type_table, "token_type_ids"], "types")
    summed = b.node("Add", [b.node("Add", [words, types], "words_types"), positions], "embedded")
    x = b.layer_norm(summed, "embeddings.LayerNorm", "embeddings/out")

    bias = b.padding_bias()
    for i in range(int(config["num_hidden_layers"])):
        x = b.encoder_layer(x, bias, i, NAMES)
    return b.model("all-MiniLM-L6-v2", ["input_ids", "attention_mask", "token_type_ids"], x)
