"""`edgefabric eval` with the real embedded model on a small Sample JSONL (tools really executed in
the sandbox) and a small BFCL-layout file; then `eval compare` and `improve` on the reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefabric.cli import app
from edgefabric.dataset import append_samples
from edgefabric.schemas import Message, Sample, SampleMetadata, ToolCall

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.slow


def _samples(path: Path) -> None:
    from edgefabric.runtime.sandbox import load_toolbox

    tools = load_toolbox(["kv"]).specs
    set_call = ToolCall(name="set", arguments={"key": "colour", "value": "blue"}, id="c1")
    get_call = ToolCall(name="get", arguments={"key": "colour"}, id="c2")

    def sample(kind: str, messages: list[Message]) -> Sample:
        return Sample(messages=messages, tools=tools, metadata=SampleMetadata(kind=kind))  # type: ignore[arg-type]

    append_samples(
        path,
        [
            sample(
                "single",
                [
                    Message(role="user", content="Remember that my favourite colour is blue."),
                    Message(role="assistant", tool_calls=[set_call]),
                    Message(role="tool", name="set", tool_call_id="c1", content='{"key": "colour"}'),
                    Message(role="assistant", content="Saved."),
                ],
            ),
            sample(
                "no_call",
                [
                    Message(role="user", content="Say hi."),
                    Message(role="assistant", content="Hi!"),
                ],
            ),
            sample(
                "multi_step",
                [
                    Message(role="user", content="Store colour=blue, then read it back."),
                    Message(role="assistant", tool_calls=[set_call]),
                    Message(role="tool", name="set", tool_call_id="c1", content="{}"),
                    Message(role="assistant", tool_calls=[get_call]),
                    Message(role="tool", name="get", tool_call_id="c2", content='{"value": "blue"}'),
                    Message(role="assistant", content="It is blue."),
                ],
            ),
        ],
    )


METRICS = [
    "tool_selection_accuracy",
    "parameter_accuracy",
    "schema_validity_rate",
    "execution_success_rate",
    "equivalent_accuracy",
    "irrelevance_accuracy",
    "multi_step_success",
    "overall",
    "no-call baseline",
    "passed/of",
    "time_to_first_token",
    "time_to_first_call",
    "tokens_per_s",
    "peak_rss_mb",
]


def test_eval_prints_every_metric_and_compare_and_improve_work(tmp_path: Path) -> None:
    test_split = tmp_path / "test.jsonl"
    _samples(test_split)
    report = tmp_path / "run1" / "eval-report.json"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "eval",
            "embedded:smollm2-135m",
            "--samples",
            str(test_split),
            "--bfcl",
            str(DATA / "BFCL_v3_mini.json"),
            "--tools",
            "kv",
            "--constrained",
            "required",
            "--max-steps",
            "2",
            "--max-tokens",
            "40",
            "--max-samples",
            "3",
            "--out",
            str(report),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    for metric in METRICS:
        assert metric in result.output, metric
    assert "overall = mean over 6 case(s)" in result.output  # the formula is printed with the score
    assert "over the no-call baseline (16.7%)" in result.output  # one no-call case of six
    data = json.loads(report.read_text())
    assert data["n"] == 6
    assert data["baseline"]["overall"] == 1 / 6 and data["summary"]
    assert data["counts"]["irrelevance_accuracy"][1] == 1 and data["counts"]["multi_step_success"][1] == 1
    # Constrained decoding: every call the model made is schema-valid, and the kv calls ran in the sandbox.
    assert all(case["calls_valid"] == case["calls_made"] for case in data["cases"]), data["cases"]
    silent = sum(1 for case in data["cases"] if case["relevant"] and not case["calls_made"])
    made = sum(case["calls_made"] for case in data["cases"])
    assert data["counts"]["schema_validity_rate"] == [
        made,
        made + silent,
    ]  # a call case without a call counts as invalid
    assert data["metrics"]["execution_success_rate"] is not None
    assert data["metrics"]["multi_step_success"] is not None
    assert set(data["per_kind"]) == {"single", "no_call", "multi_step", "simple", "multiple", "parallel"}
    assert data["performance"]["time_to_first_token_p50_s"] > 0

    other = tmp_path / "copy.json"
    shutil.copy(report, other)
    compared = runner.invoke(app, ["eval", "compare", str(report), str(other)], terminal_width=200)
    assert compared.exit_code == 0 and "parameter_accuracy" in compared.output, compared.output
    assert "no-call baseline" in compared.output and "16.7%" in compared.output

    improved = runner.invoke(app, ["improve", str(report.parent)], terminal_width=200)
    assert improved.exit_code == 0, improved.output
    rounds = json.loads((report.parent / "rounds.json").read_text())
    assert rounds[0]["round"] == 1 and abs(sum(rounds[0]["plan"]["kind_weights"].values()) - 1) < 1e-3
    assert (report.parent / "improve-config.yaml").exists()
