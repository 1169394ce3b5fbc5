"""ONNX int8 with the tied embedding at 8 bits (the default ONNX export, issue 16): what the builder is
asked for, and what it writes on a tiny Gemma."""

from __future__ import annotations

import json
from pathlib import Path

from edgefabric.config import ExportConfig, OnnxQuantization
from edgefabric.export.onnx import build, builder_quantization
from edgefabric.export.parity import check_parity
from edgefabric.export.source import inspect_source


def test_the_default_onnx_export_is_int8_with_its_embedding_at_8_bits() -> None:
    config = ExportConfig()
    assert config.onnx == ["int8"] and config.onnx_quantization.embedding == "int8"


def test_builder_arguments_per_precision_and_embedding(tiny_gemma: Path, tmp_path: Path) -> None:
    source = inspect_source(tiny_gemma)
    default = OnnxQuantization()
    assert builder_quantization(source, "fp32", default) == ["-p", "fp32"]
    int4 = builder_quantization(source, "int4", default)
    assert int4 == ["-p", "int4", "--extra_options", *default.builder_options("int4")]
    assert "algo_config=k_quant" in int4 and "matmul_mixed_precision=last_matmul:int8" in int4
    builders_int8 = builder_quantization(source, "int8", OnnxQuantization(embedding="float"))
    assert builders_int8[:2] == ["-p", "int8"] and "--target_options" not in builders_int8

    arguments = builder_quantization(source, "int8", default)
    assert arguments[:2] == ["-p", "int4"]  # the builder reads a quantized embedding only on its int4 path
    assert "algo_config=rtn" in arguments and "accuracy_level=4" in arguments
    assert not any(a.startswith("matmul_mixed_precision=") for a in arguments)
    weights = json.loads(arguments[arguments.index("--target_options") + 1])["quant_config"]["weights"]
    assert weights["op_types"] == ["MatMul", "Gather"]
    named = {o["match"]["name"] for o in weights["overrides"]}
    assert {o["type"] for o in weights["overrides"]} == {"int8"}
    assert len(named) == 2 * 5 + 1 and "/lm_head/MatMul" in named and "/model/layers.1/mlp/down_proj/MatMul" in named

    untied = tmp_path / "untied"
    untied.mkdir()
    for path in tiny_gemma.iterdir():
        if path.is_file():
            (untied / path.name).symlink_to(path)
    config = json.loads((tiny_gemma / "config.json").read_text())
    (untied / "config.json").unlink()
    (untied / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": False}))
    assert builder_quantization(inspect_source(untied), "int8", default)[:2] == ["-p", "int8"]


def test_int8_export_stores_the_embedding_once_at_8_bits_and_passes_parity(tiny_gemma: Path, tmp_path: Path) -> None:
    import onnx

    folder = build(inspect_source(tiny_gemma), tmp_path / "onnx-int8", "int8")
    graph = onnx.load(str(folder / "model.onnx"), load_external_data=False).graph
    bits = {
        node.name: next(a.i for a in node.attribute if a.name == "bits")
        for node in graph.node
        if node.op_type in ("MatMulNBits", "GatherBlockQuantized")
    }
    assert "/model/embed_tokens/GatherBlockQuantized" in bits and "/lm_head/MatMul_Q8" in bits
    assert set(bits.values()) == {8} and len(bits) == 2 * 5 + 2
    assert "model.embed_tokens.weight" not in {t.name for t in graph.initializer}  # no float copy

    report = check_parity(tiny_gemma, "functiongemma", onnx=[("int8", folder)])
    (export,) = report.exports
    assert export.passed, export.failures
