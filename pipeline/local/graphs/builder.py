"""What the encoder graphs share: ONNX nodes for linear layers, layer norms and one
post-norm transformer layer, written straight from a checkpoint's numpy arrays.

BERT and MPNet run the same layer (self-attention, residual and LayerNorm, a GELU
feed-forward, residual and LayerNorm); they differ in their embeddings, in what is
added to the attention scores, and in the names of their weights. `LayerNames` carries
the names, `GraphBuilder.encoder_layer` the layer, and each model module its own
embeddings and attention bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

OPSET = 17  # the first opset with LayerNormalization
IR_VERSION = 8  # what opset 17 was released with; readable by old onnxruntime too


def ffn_input_matmul(layer: int) -> str:
    """The name of layer `layer`'s feed-forward input MatMul (768 -> 3072 for MPNet), a
    node a quantizer may be told to leave in fp32."""
    return f"layer{layer}/inter/matmul"


def ffn_output_matmul(layer: int) -> str:
    """The name of layer `layer`'s feed-forward output MatMul (3072 -> 768 for MPNet), a
    node a quantizer may be told to leave in fp32."""
    return f"layer{layer}/ffn_out/matmul"


@dataclass(frozen=True)
class LayerNames:
    """Where one layer's attention weights live in the checkpoint, relative to the
    layer's prefix. The feed-forward names (`intermediate.dense`, `output.dense`,
    `output.LayerNorm`) are the same in BERT and MPNet."""

    query: str
    key: str
    value: str
    attention_out: str
    attention_norm: str


class GraphBuilder:
    """Collects the nodes and initializers of one graph; every node is named after its
    output, so a node can be found (and excluded from quantization) by that name."""

    def __init__(self, weights: dict[str, np.ndarray], config: dict[str, Any]) -> None:
        self.weights = weights
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.heads
        self.eps = float(config["layer_norm_eps"])
        if config.get("hidden_act") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._constants: set[str] = set()

    def const(self, name: str, value: np.ndarray) -> str:
        """An initializer, added once however often it is asked for."""
        from onnx import numpy_helper

        if name not in self._constants:
            self._constants.add(name)
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def scalar(self, name: str, value: float) -> str:
        return self.const(name, np.array(value, dtype=np.float32))

    def weight(self, key: str, transpose: bool = False) -> str:
        value = self.weights[key].astype(np.float32)
        return self.const(key, value.T if transpose else value)

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def linear(self, x: str, prefix: str, out: str) -> str:
        """`x @ W.T + b` of the checkpoint's `prefix.weight` and `prefix.bias`; the
        MatMul is named `{out}/matmul`."""
        product = self.node(
            "MatMul", [x, self.weight(f"{prefix}.weight", transpose=True)], f"{out}/matmul"
        )
        return self.node("Add", [product, self.weight(f"{prefix}.bias")], out)

    def layer_norm(self, x: str, prefix: str, out: str) -> str:
        scale, bias = self.weight(f"{prefix}.weight"), self.weight(f"{prefix}.bias")
        return self.node("LayerNormalization", [x, scale, bias], out, axis=-1, epsilon=self.eps)

    def padding_bias(self) -> str:
        """[batch, 1, 1, seq] from `attention_mask`: 0 where attended, a large negative at
        padding, so that padding gets no attention after the softmax."""
        from onnx import TensorProto

        mask = self.node("Cast", ["attention_mask"], "mask_float", to=TensorProto.FLOAT)
        axes = self.const("axes_1_2", np.array([1, 2], dtype=np.int64))
        mask = self.node("Unsqueeze", [mask, axes], "mask4")
        inverted = self.node("Sub", [self.scalar("one", 1.0), mask], "mask_inv")
        return self.node("Mul", [inverted, self.scalar("neg_large", -1e9)], "attn_bias")

    def encoder_layer(self, x: str, bias: str, index: int, names: LayerNames) -> str:
        """One post-norm transformer layer over `x` [batch, seq, hidden]; `bias` is added
        to the scaled attention scores (it broadcasts to [batch, heads, seq, seq])."""
        p, n = f"encoder.layer.{index}", f"layer{index}"
        split_heads = self.const(
            "split_heads", np.array([0, 0, self.heads, self.head_dim], dtype=np.int64)
        )
        merge_heads = self.const("merge_heads", np.array([0, 0, self.hidden], dtype=np.int64))
        scale = self.scalar("attn_scale", 1.0 / np.sqrt(self.head_dim))
        sqrt2, half = self.scalar("sqrt2", np.sqrt(2.0)), self.scalar("half", 0.5)
        one = self.scalar("one", 1.0)

        def heads_of(kind: str, perm: list[int]) -> str:
            weights = getattr(names, kind)
            projected = self.linear(x, f"{p}.{weights}", f"{n}/{weights.rsplit('.', 1)[-1]}")
            split = self.node("Reshape", [projected, split_heads], f"{projected}/split")
            return self.node("Transpose", [split], f"{projected}/heads", perm=perm)

        q = heads_of("query", [0, 2, 1, 3])  # [b, h, s, d]
        k = heads_of("key", [0, 2, 3, 1])  # [b, h, d, s]
        v = heads_of("value", [0, 2, 1, 3])  # [b, h, s, d]
        scores = self.node("Mul", [self.node("MatMul", [q, k], f"{n}/qk"), scale], f"{n}/scores")
        masked = self.node("Add", [scores, bias], f"{n}/masked")
        probs = self.node("Softmax", [masked], f"{n}/probs", axis=-1)
        context = self.node("MatMul", [probs, v], f"{n}/context")
        context = self.node("Transpose", [context], f"{n}/context/t", perm=[0, 2, 1, 3])
        context = self.node("Reshape", [context, merge_heads], f"{n}/context/merged")
        attended = self.linear(context, f"{p}.{names.attention_out}", f"{n}/attn_out")
        residual = self.node("Add", [attended, x], f"{n}/attn_res")
        x = self.layer_norm(residual, f"{p}.{names.attention_norm}", f"{n}/h")

        # GELU with erf: 0.5 * y * (1 + erf(y / sqrt 2)), in the order onnxruntime's
        # Gelu fusion looks for.
        y = self.linear(x, f"{p}.intermediate.dense", f"{n}/inter")
        erf = self.node("Erf", [self.node("Div", [y, sqrt2], f"{n}/gelu/div")], f"{n}/gelu/erf")
        gated = self.node(
            "Mul", [y, self.node("Add", [erf, one], f"{n}/gelu/add")], f"{n}/gelu/mul"
        )
        activated = self.node("Mul", [gated, half], f"{n}/gelu")
        out = self.linear(activated, f"{p}.output.dense", f"{n}/ffn_out")
        residual = self.node("Add", [out, x], f"{n}/ffn_res")
        return self.layer_norm(residual, f"{p}.output.LayerNorm", f"{n}/out")

    def model(self, name: str, inputs: list[str], hidden_state: str) -> Any:
        """The finished model: int64 [batch, sequence] `inputs`, and `hidden_state` as the
        float32 [batch, sequence, hidden] output `last_hidden_state`."""
        from onnx import TensorProto, helper

        self.nodes.append(
            helper.make_node("Identity", [hidden_state], ["last_hidden_state"], name="output")
        )
        graph = helper.make_graph(
            self.nodes,
            name,
            [
                helper.make_tensor_value_info(x, TensorProto.INT64, ["batch", "sequence"])
                for x in inputs
            ],
            [
                helper.make_tensor_value_info(
                    "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", self.hidden]
                )
            ],
            self.initializers,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="persona"
        )
        model.ir_version = IR_VERSION
        return model
