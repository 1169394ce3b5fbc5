"""Runs onnxruntime-genai's model builder with the config fixes it needs under transformers 5.

Started as `python -m edgefabric.export.onnx_builder_main <builder args>` in a child
process (the builder holds the whole model in memory; a child frees it at exit and lets
the parent measure and kill it).

transformers 5 stores Gemma 3's RoPE settings as one nested dict per layer type
(`rope_parameters = {"full_attention": {...}, "sliding_attention": {...}}`) and drops the
flat `rope_local_base_freq`; the 0.18.0 builder reads `rope_parameters["rope_type"]` and
`config.rope_local_base_freq` (KeyError 'rope_type'). Editing config.json does not help:
AutoConfig re-nests the values. So the loaded config is flattened here, before the builder
sees it.
"""

from __future__ import annotations

import runpy
import sys
from typing import Any


def flatten_rope(config: Any) -> Any:
    """Give a per-layer-type RoPE config the flat shape the builder reads; others pass through."""
    params = getattr(config, "rope_parameters", None)
    if isinstance(params, dict) and "rope_type" not in params and "full_attention" in params:
        full: dict[str, Any] = params["full_attention"]
        sliding: dict[str, Any] = params.get("sliding_attention") or full
        config.rope_local_base_freq = sliding["rope_theta"]
        config.rope_parameters = {**full, "rope_type": full.get("rope_type", "default")}
    return config


def main() -> None:
    import transformers

    original = transformers.AutoConfig.from_pretrained

    def from_pretrained(*args: Any, **kwargs: Any) -> Any:
        return flatten_rope(original(*args, **kwargs))

    setattr(transformers.AutoConfig, "from_pretrained", from_pretrained)  # noqa: B010  # patch the class the builder imports
    sys.argv = ["onnxruntime_genai.models.builder", *sys.argv[1:]]
    runpy.run_module("onnxruntime_genai.models.builder", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
