"""`edgefabric export` end to end on tiny models: GGUF + ONNX, parity report, bundle; and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from edgefabric.cli import app
from edgefabric.export.bundle import DEVICES, device_fit, kv_cache_bytes
from edgefabric.export.files import sha256


def test_export_gemma_gguf_and_onnx_with_parity(tiny_gemma: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        app,
        ["export", str(tiny_gemma), "--gguf", "f16,q4_0", "--onnx", "fp32", "--out", str(out), "--probe-tokens", "20"],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "parity" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "model-f16.gguf",
            "model-q4_0.gguf",
            "onnx-fp32",
            "Modelfile",
            "README.md",
            "device_fit.json",
            "manifest.json",
            "parity.json",
        ]
    )
    assert not (tmp_path / "bundle.partial").exists()
    assert {"model.onnx", "genai_config.json", "tokenizer.json", "chat_template.jinja"} <= {
        p.name for p in (out / "onnx-fp32").iterdir()
    }

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "functiongemma" and manifest["architecture"] == "Gemma3ForCausalLM"
    assert {(e["format"], e["quant"]) for e in manifest["exports"]} == {
        ("gguf", "f16"),
        ("gguf", "q4_0"),
        ("onnx", "fp32"),
    }
    listed = {f["path"]: f for f in manifest["files"]}
    assert listed["model-q4_0.gguf"]["sha256"] == sha256(out / "model-q4_0.gguf")
    assert listed["onnx-fp32/model.onnx"]["bytes"] == (out / "onnx-fp32" / "model.onnx").stat().st_size

    parity = json.loads((out / "parity.json").read_text())
    by_target = {e["target"]: e for e in parity["exports"]}
    assert set(by_target) == {"gguf f16", "gguf q4_0", "onnx fp32"}
    for target in ("gguf f16", "onnx fp32"):  # unquantized: the tool calls must be identical
        export = by_target[target]
        assert export["must_be_exact"] and export["passed"], export["summary"] if "summary" in export else export
        weather = next(p for p in export["probes"] if p["name"] == "tool_weather")
        # the tiny model was overfitted to call the tool, so this compares a real call, not two empty lists
        assert weather["reference_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
        assert weather["calls"] == weather["reference_calls"]
    assert 0.0 <= by_target["gguf q4_0"]["token_agreement"] <= 1.0
    assert not by_target["gguf q4_0"]["must_be_exact"]

    modelfile = (out / "Modelfile").read_text()
    assert "FROM ./model-f16.gguf" in modelfile
    assert 'PARAMETER stop "<start_function_response>"' in modelfile
    card = (out / "README.md").read_text()
    assert "does not yet parse FunctionGemma" in card and "phone 6 GB" in card


def test_export_qwen_gguf_parity(tiny_qwen: Path, tmp_path: Path) -> None:
    out = tmp_path / "qwen"
    result = CliRunner().invoke(app, ["export", str(tiny_qwen), "--gguf", "f16", "--onnx", "", "--out", str(out)])
    assert result.exit_code == 0, result.output
    parity = json.loads((out / "parity.json").read_text())
    (export,) = parity["exports"]
    weather = next(p for p in export["probes"] if p["name"] == "tool_weather")
    assert weather["reference_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert export["passed"] and weather["calls_identical"]
    assert "llama-server --jinja" in (out / "README.md").read_text()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "edgefabric.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "1000"},  # rich wraps long lines, even inside a long path
    )
    result.stderr = " ".join(result.stderr.split())
    return result


def test_cli_errors_are_clear(tiny_gemma: Path, tmp_path: Path) -> None:
    bad_quant = _cli("export", str(tiny_gemma), "--gguf", "q8_0,q2_x", "--out", str(tmp_path / "b"))
    assert bad_quant.returncode == 2
    assert "unknown GGUF type(s): q2_x" in bad_quant.stderr and "Traceback" not in bad_quant.stderr
    bad_onnx = _cli("export", str(tiny_gemma), "--onnx", "fp8", "--out", str(tmp_path / "b"))
    assert "unknown ONNX precision(s): fp8" in bad_onnx.stderr
    missing = _cli("export", str(tmp_path / "nope"))
    assert "does not exist" in missing.stderr
    adapter_only = tmp_path / "run"
    (adapter_only / "adapter").mkdir(parents=True)
    assert "merge the adapter first" in _cli("export", str(adapter_only)).stderr
    assert not (tmp_path / "b").exists()


def test_device_fit_from_config() -> None:
    config = {
        "num_hidden_layers": 6,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "num_attention_heads": 4,
        "hidden_size": 640,
        "sliding_window": 512,
        "layer_types": ["sliding_attention"] * 5 + ["full_attention"],
    }
    # 5 sliding layers keep 512 tokens, 1 full layer keeps all 4096; K and V, f16.
    assert kv_cache_bytes(config, 4096, bytes_per_value=2, sliding=True) == 2 * 256 * 2 * (5 * 512 + 4096)
    assert kv_cache_bytes(config, 4096, bytes_per_value=4, sliding=False) == 2 * 256 * 4 * 6 * 4096
    rows = device_fit([{"format": "gguf", "quant": "q8_0", "weights_bytes": 3 * 1024**3}], config)
    assert [r["context"] for r in rows] == [2048, 4096, 8192]
    assert rows[0]["fits"] == {
        "phone 6 GB": False,
        "phone 8 GB": True,
        "Raspberry Pi 5 8 GB": True,
        "laptop 16 GB": True,
    }
    assert len(DEVICES) == 4
