"""MPNet's encoder (all-mpnet-base-v2) as an ONNX graph.

MPNet is BERT's layer with two differences, both taken from `transformers`'
`modeling_mpnet.py`, which is what sentence-transformers runs:

- Embeddings: word + position, no token types. Position ids are fairseq's: the running
  count of non-padding tokens, offset by the padding id (`create_position_ids_from_
  input_ids`), so the first token reads row 2 of the 514-row table and padding reads
  row 1. Computed here from `input_ids` as it is there, with CumSum, so left padding
  would give the same vectors too.
- Attention: a learned bias per head and relative-distance bucket
  (`encoder.relative_attention_bias`, 32 buckets x 12 heads, shared by every layer) is
  added to the scaled scores, before the padding mask. Buckets come from T5's
  bidirectional scheme (`relative_position_bucket`, max distance 128): 16 per
  direction, distances 0-7 exact, then log-spaced up to 128, beyond which they share
  the last bucket; a key after the query gets the upper 16. They depend on the
  sequence length alone, so the graph holds the bucket of every (query, key) pair up to
  the model's longest input and slices it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline.local.graphs.builder import GraphBuilder, LayerNames

NAMES = LayerNames(
    query="attention.attn.q",
    key="attention.attn.k",
    value="attention.attn.v",
    attention_out="attention.attn.o",
    attention_norm="attention.LayerNorm",
)
MAX_DISTANCE = 128


def relative_position_buckets(length: int, num_buckets: int, max_distance: int) -> np.ndarray:
    """[length, length] bucket of key j for query i, exactly as `transformers` computes it.

    Same float32 arithmetic as the torch original (checked against it for every pair up
    to 512): where the log-spaced bucket of a distance lands on a bucket edge (16, 32,
    64), float64 would round the other way.
    """
    relative = np.arange(length)[None, :] - np.arange(length)[:, None]  # key - query
    n = -relative
    half = num_buckets // 2
    buckets = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    ratio = np.maximum(n, 1).astype(np.float32) / np.float32(max_exact)  # log(0) is masked below
    spread = np.log(ratio) / np.float32(math.log(max_distance / max_exact))
    large = max_exact + (spread * np.float32(half - max_exact)).astype(np.int64)
    large = np.minimum(large, half - 1)
    result: np.ndarray = buckets + np.where(n < max_exact, n, large)
    return result


def mpnet_graph(weights: dict[str, np.ndarray], config: dict[str, Any]) -> Any:
    """The MPNet encoder as an ONNX model: token ids in, `last_hidden_state` out.

    Inputs `input_ids` and `attention_mask` (int64, [batch, seq]); no `token_type_ids`,
    which fastembed then does not feed. Output `last_hidden_state` (float32,
    [batch, seq, 768]) for fastembed to mean-pool and normalize.
    """
    from onnx import TensorProto

    b = GraphBuilder(weights, config)
    pad = int(config["pad_token_id"])
    longest = int(config["max_position_embeddings"]) - pad - 1  # 512 tokens

    # Embeddings: positions pad+1, pad+2, ... over the non-padding tokens, pad elsewhere.
    is_pad = b.node("Equal", ["input_ids", b.const("pad_id", np.array(pad, np.int64))], "is_pad")
    real = b.node("Cast", [b.node("Not", [is_pad], "not_pad")], "real", to=TensorProto.INT64)
    counted = b.node("CumSum", [real, b.const("axis_1", np.array(1, np.int64))], "counted")
    offset = b.const("pad_offset", np.array(pad, np.int64))
    position_ids = b.node(
        "Add", [b.node("Mul", [counted, real], "counted_real"), offset], "pos_ids"
    )
    table = b.weight("embeddings.position_embeddings.weight")
    positions = b.node("Gather", [table, position_ids], "positions")
    words = b.node("Gather", [b.weight("embeddings.word_embeddings.weight"), "input_ids"], "words")
    summed = b.node("Add", [words, positions], "embedded")
    x = b.layer_norm(summed, "embeddings.LayerNorm", "embeddings/out")

    # Relative position bias [1, heads, seq, seq], computed once for every layer, plus
    # the padding mask: [batch, heads, seq, seq].
    buckets = relative_position_buckets(
        longest, int(config["relative_attention_num_buckets"]), MAX_DISTANCE
    )
    seq_len = b.node("Shape", ["input_ids"], "seq_len", start=1, end=2)
    square = b.node("Concat", [seq_len, seq_len], "seq_square", axis=0)
    zeros = b.const("zeros_2", np.array([0, 0], dtype=np.int64))
    axes = b.const("axes_0_1", np.array([0, 1], dtype=np.int64))
    pairs = b.node("Slice", [b.const("buckets", buckets), zeros, square, axes], "buckets_seq")
    by_head = b.weight("encoder.relative_attention_bias.weight")  # [buckets, heads]
    relative = b.node("Gather", [by_head, pairs], "rel_bias")  # [seq, seq, heads]
    relative = b.node("Transpose", [relative], "rel_bias/t", perm=[2, 0, 1])
    relative = b.node("Unsqueeze", [relative, b.const("axes_0", np.array([0], np.int64))], "rel4")
    bias = b.node("Add", [relative, b.padding_bias()], "attn_bias_rel")

    for i in range(int(config["num_hidden_layers"])):
        x = b.encoder_layer(x, bias, i, NAMES)
    return b.model("all-mpnet-base-v2", ["input_ids", "attention_mask"], x)
