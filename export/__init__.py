"""Export trained models to on-device formats (GGUF, ONNX) with a parity check."""
