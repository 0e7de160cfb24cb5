"""The encoders Persona runs, as ONNX graphs written from safetensors with numpy and `onnx`.

- `builder`: what the graphs share (linear layers, layer norms, a transformer layer);
- `bert`: all-MiniLM-L6-v2's BERT encoder;
- `mpnet`: all-mpnet-base-v2's MPNet encoder (relative position bias, fairseq positions).
"""
