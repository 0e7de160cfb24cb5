"""Dynamic int8 quantization of a built graph, with chosen MatMuls left in fp32.

Int8 weights make the MatMuls, nearly all of an encoder's time on a CPU, cheaper where
the CPU multiplies int8 natively (VNNI: AVX-512 VNNI, AVX-VNNI, AMX). Without it they
may gain nothing: on our 2-core development machines (AMD EPYC, AVX2, no VNNI) MPNet
embedded 5.9 texts/s in fp32, 6.1 int8-mixed and 6.2 all-int8 (`make bench-models`).
Every MatMul in int8 costs MPNet its fidelity (cosine 0.76-0.85 to the reference);
which nodes stay in fp32 to win it back is the model recipe's choice
(`pipeline.local.model_build`); this module only applies it.

Activations are quantized per batch at run time (dynamic quantization: no calibration
data) to uint8, weights per output channel ahead of time to signed 7-bit values
(`reduce_range`). The 8th bit matters on CPUs without VNNI (AVX2, and AVX-512 before
VNNI): onnxruntime's uint8 x int8 kernels there add pairs of products in 16 bits,
which full-range weights overflow. With 8-bit weights, MPNet's vectors came out at
cosine 0.02 of fp32 on such a machine: noise, while the same model looks right on a
VNNI machine. 7-bit weights cannot overflow, so one model file is right on every CPU.

A consequence of quantizing activations per batch: a text's vector depends slightly on
the other texts of its batch, padding included (their range sets the scale). fp32
graphs have no such effect.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def quantize_int8(model: Any, out: Path, keep_fp32: Sequence[str] = ()) -> None:
    """Write `out`: the ONNX `model` with every MatMul of a constant weight in int8 except
    the MatMul nodes named in `keep_fp32` (KeyError if one is not in the graph)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    missing = set(keep_fp32) - {node.name for node in model.graph.node}
    if missing:
        raise KeyError(f"nodes to keep in fp32 are not in the graph: {sorted(missing)}")

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # a line per node, and advice we do not need
    try:
        with tempfile.TemporaryDirectory(prefix=".quantize-", dir=out.parent) as scratch:
            fp32 = Path(scratch) / "model.onnx"
            onnx.save_model(model, str(fp32))
            quantize_dynamic(
                fp32,
                out,
                op_types_to_quantize=["MatMul"],  # not the embedding Gathers
                per_channel=True,
                reduce_range=True,  # 7-bit weights: see the module's docstring
                weight_type=QuantType.QInt8,
                nodes_to_exclude=list(keep_fp32),
                extra_options={"MatMulConstBOnly": True},  # attention's q.k and p.v stay fp32
            )
    finally:
        root.setLevel(level)
