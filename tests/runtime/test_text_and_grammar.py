"""Stop-sequence scanning, device profiles and call grammars (compiled by llama.cpp itself)."""

from __future__ import annotations

import json

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.backends import detect_backend, guess_family
from edgefabric.runtime.backends.base import StopScanner
from edgefabric.runtime.grammar import call_grammar
from edgefabric.runtime.profiles import PROFILES, get_profile
from edgefabric.schemas import ToolSpec

TOOLS = [
    ToolSpec(
        name="calculate",
        parameters={
            "type": "object",
            "properties": {"expression": {"type": "string"}, "digits": {"type": "integer"}},
            "required": ["expression"],
        },
    ),
    ToolSpec(
        name="kv.set",
        parameters={
            "type": "object",
            "properties": {
                "key": {"type": "string"},
                "value": {"type": ["string", "number", "boolean", "null"]},
                "mode": {"enum": ["replace", "keep"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "anything": {"type": "array", "items": {}},  # a bare `list` hint in a tool module
                "meta": {"type": "object"},
            },
        },
    ),
    ToolSpec(name="ping"),
]


def test_stop_scanner_cuts_at_a_stop_split_across_pieces() -> None:
    scanner = StopScanner(["<|im_end|>"])
    out = "".join(scanner.feed(p) for p in ["Hello <|im", "_en", "d|> trailing"])
    assert out == "Hello " and scanner.stopped


def test_stop_scanner_releases_a_false_prefix() -> None:
    scanner = StopScanner(["</tool_call>"])
    out = scanner.feed("a </to") + scanner.feed("p> b") + scanner.flush()
    assert out == "a </top> b" and not scanner.stopped


def test_profiles() -> None:
    phone = get_profile("phone")
    assert (phone.threads, phone.context) == (4, 2048)
    assert set(PROFILES) == {"phone", "raspberry-pi", "laptop", "desktop"}
    assert 1 <= phone.effective_threads() <= 4
    with pytest.raises(EdgeFabricError, match="unknown device profile"):
        get_profile("toaster")


def test_backend_detection(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert detect_backend("embedded:smollm2-135m") == "llama.cpp"
    (tmp_path / "genai_config.json").write_text("{}")
    assert detect_backend(str(tmp_path)) == "onnxruntime-genai"
    with pytest.raises(EdgeFabricError, match="cannot tell which engine"):
        detect_backend(str(tmp_path / "nothing"))
    assert guess_family("embedded:smollm2-135m") == "qwen3"
    assert guess_family("embedded:gemma3-270m") == "functiongemma"


@pytest.mark.parametrize("family", ["qwen3", "functiongemma"])
@pytest.mark.parametrize("mode", ["required", "auto"])
def test_call_grammars_compile_in_llama_cpp(family: str, mode: str) -> None:
    from llama_cpp import LlamaGrammar

    source = call_grammar(family, TOOLS, mode=mode)  # type: ignore[arg-type]
    assert LlamaGrammar.from_string(source, verbose=False) is not None
    assert ("answer" in source.splitlines()[0]) == (mode == "auto")


def test_grammar_needs_tools_and_a_known_format() -> None:
    with pytest.raises(EdgeFabricError):
        call_grammar("qwen3", [])
    with pytest.raises(EdgeFabricError, match="no call grammar"):
        call_grammar("llama2", TOOLS)


def test_an_export_bundle_names_its_format_whatever_the_file_is_called(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "runs" / "gemma-ish-name" / "export"
    (bundle / "onnx-int4").mkdir(parents=True)
    gguf = bundle / "model-q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    assert guess_family(str(gguf)) == "functiongemma"  # no manifest: a guess from the name
    (bundle / "manifest.json").write_text(json.dumps({"format": "qwen3"}))
    assert guess_family(str(gguf)) == "qwen3"
    assert guess_family(str(bundle / "onnx-int4")) == "qwen3"
