"""Whole runs against the scripted server and the REAL sandbox: verified samples, rejects with
reasons, faults, and resume after an in-process stop and after five real SIGKILLs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgefabric.config import ProjectConfig
from edgefabric.dataset import read_samples
from edgefabric.errors import EdgeFabricError
from edgefabric.events import EventLog, Note, Progress, SampleAccepted, SampleRejected, StageDone, StageStarted
from edgefabric.pipeline.generate.rejects import read_rejects
from edgefabric.pipeline.generate.run import generate, outlook
from tests.generate.conftest import TOOL_ARGUMENTS, TOOLS_MODULE
from tests.generate.teacher_server import Fault, TeacherServer
from tests.processes import alive, descendants

pytestmark = pytest.mark.usefixtures("shared_home")


def _config(server: TeacherServer, kinds: dict[str, float], num_samples: int, **teacher: Any) -> ProjectConfig:
    server.script.tool_arguments = TOOL_ARGUMENTS
    return ProjectConfig.model_validate(
        {
            "teacher": {"model": "scripted", "api_base": server.url, "concurrency": 3, "max_retries": 2, **teacher},
            "tools": {"builtin": [], "modules": [str(TOOLS_MODULE)]},
            "topics": {"prompt": "Numbers and words", "depth": 1, "degree": 3},
            # The scripted teacher picks calls at random, so back-translation is tested on its own below.
            "generation": {"num_samples": num_samples, "kinds": kinds, "seed": 3, "cycle_check": "off"},
        }
    )


ALL_KINDS = {"single": 1, "parallel": 1, "multi_step": 1, "no_call": 1, "error_recovery": 1}


def test_a_run_writes_verified_samples_with_real_results_splits_and_a_card(
    server: TeacherServer, tmp_path: Path
) -> None:
    log = EventLog()
    summary = generate(_config(server, ALL_KINDS, 10), tmp_path, on_event=log, backoff_base_s=0.01)
    samples = read_samples(tmp_path / "samples.jsonl").samples
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert summary.accepted == len(samples) == 10
    assert summary.attempts == len(samples) + len(rejects)
    assert all(r.reason and r.stage for r in rejects)
    kinds = {s.metadata.kind for s in samples}
    assert kinds == set(ALL_KINDS)
    for sample in samples:
        assert [v.stage for v in sample.metadata.verification] == ["format", "execution", "grounding", "semantic"]
        assert all(v.passed for v in sample.metadata.verification)
        results = {m.tool_call_id: m.content for m in sample.messages if m.role == "tool"}
        for call in sample.tool_calls:
            if sample.metadata.kind != "error_recovery" and call.name == "add":
                assert json.loads(results[call.id]) == call.arguments["a"] + call.arguments["b"]  # really ran
    recovery = next(s for s in samples if s.metadata.kind == "error_recovery")
    first_result = next(m for m in recovery.messages if m.role == "tool")
    assert "a" in first_result.content and first_result.content != "5"  # the sandbox's real schema error
    assert sum(summary.splits.values()) == 10
    assert sum(len((tmp_path / f"{n}.jsonl").read_text().splitlines()) for n in ("train", "val", "test")) == 10
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["samples"] == 10 and card["per_kind"]["single"] >= 1 and card["teacher"] == "scripted"
    assert card["usage"]["calls"] == len(server.requests) and card["usage"]["prompt_tokens"] > 0
    assert "Rejection reasons" in (tmp_path / "card.md").read_text()
    last = log.of_type(Progress)[-1]
    assert (
        last.stage == "generate"
        and last.done == 10
        and {"accept_rate", "samples_per_min", "eta_s"} <= set(last.metrics)
    )
    assert len(log.of_type(SampleAccepted)) + len(log.of_type(SampleRejected)) == summary.attempts
    assert len(log.of_type(SampleAccepted)) == 10


def test_bad_replies_and_a_no_verdict_are_rejected_with_reasons_never_dropped(
    server: TeacherServer, tmp_path: Path
) -> None:
    def responder(schema: dict[str, Any], body: dict[str, Any]) -> Any:
        if "answer" in schema.get("properties", {}) and len(server.requests) % 2:
            return '{"answer": '  # truncated every other final answer, on every retry too
        return None

    server.script.responder = responder
    server.script.verdict = "no"
    summary = generate(_config(server, {"single": 1, "no_call": 1}, 4), tmp_path, backoff_base_s=0.01)
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert summary.accepted == 0
    assert len(rejects) == summary.attempts == 4 * 5  # MAX_ATTEMPTS_FACTOR attempts, every one recorded
    stages = {r.stage for r in rejects}
    assert "semantic" in stages
    assert all(r.messages for r in rejects if r.stage == "semantic")
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["rejected"] == 20 and any(key.startswith("semantic") for key in card["rejection_reasons"])


def test_resume_continues_without_duplicates_and_a_rerun_needs_resume(server: TeacherServer, tmp_path: Path) -> None:
    config = _config(server, {"single": 1, "parallel": 1, "no_call": 1}, 6)
    generate(config, tmp_path, num_samples=3, backoff_base_s=0.01)
    first = [s.id for s in read_samples(tmp_path / "samples.jsonl").samples]
    with pytest.raises(EdgeFabricError, match="already holds"):
        generate(config, tmp_path)
    calls_before = len(server.requests)
    generate(config, tmp_path, resume=True, backoff_base_s=0.01)
    ids = [s.id for s in read_samples(tmp_path / "samples.jsonl").samples]
    assert ids[:3] == first and len(ids) == len(set(ids)) == 6
    assert not any("subtopics" in json.dumps(r.get("response_format")) for r in server.requests[calls_before:])
    other = config.model_copy(update={"generation": config.generation.model_copy(update={"seed": 4})})
    with pytest.raises(EdgeFabricError, match="differs"):
        generate(other, tmp_path, resume=True)


def _own(log: EventLog, kind: type) -> list[Any]:
    return [e for e in log.of_type(kind) if e.stage == "generate"]


def test_a_met_target_is_said_first_and_a_resume_starts_from_the_figures_on_disk(
    server: TeacherServer, tmp_path: Path
) -> None:
    """Issue 15, problem 6: no "generate 3 samples (3 already written)" then "done" with nothing generated."""
    config = _config(server, {"single": 1, "no_call": 1}, 3)
    generate(config, tmp_path, backoff_base_s=0.01)
    assert outlook(tmp_path, 3).complete and not outlook(tmp_path, 5).complete
    log = EventLog()
    generate(config, tmp_path, resume=True, on_event=log, backoff_base_s=0.01)
    said = "3 of 3 samples already written; nothing to generate — raise num_samples to add more"
    note = next(e for e in _own(log, Note) if said in e.text)
    (started,) = _own(log, StageStarted)
    assert log.events.index(note) < log.events.index(started) and started.detail == said
    assert [(e.done, e.total) for e in _own(log, Progress)] == [(3, 3)]
    (done,) = _own(log, StageDone)
    assert done.summary["accepted"] == 3 and done.summary["accepted_now"] == 0
    log = EventLog()
    generate(config, tmp_path, resume=True, num_samples=5, on_event=log, backoff_base_s=0.01)
    (started,) = _own(log, StageStarted)
    assert started.detail.startswith("2 more samples to reach 5 (3 already written) with scripted")
    assert (_own(log, Progress)[0].done, _own(log, Progress)[-1].done) == (3, 5)  # a bar starts at 3 of 5
    assert _own(log, StageDone)[0].summary["accepted_now"] == 2


def test_teacher_outage_stops_the_run_and_resume_retries_the_failed(server: TeacherServer, tmp_path: Path) -> None:
    config = _config(server, {"single": 1}, 2, max_retries=1)
    generate(config, tmp_path, num_samples=1, backoff_base_s=0.01)  # topics and one sample
    server.faults.extend([Fault(status=503)] * 100)
    with pytest.raises(EdgeFabricError, match="in a row") as info:
        generate(config, tmp_path, resume=True, backoff_base_s=0.01)
    assert "--resume" in (info.value.fix or "")
    failed = [r for r in read_rejects(tmp_path / "rejects.jsonl") if r.stage == "teacher"]
    assert len(failed) == 3 and "kept failing" in failed[0].reason
    server.faults.clear()
    summary = generate(config, tmp_path, resume=True, backoff_base_s=0.01)
    ids = {s.id for s in read_samples(tmp_path / "samples.jsonl").samples}
    assert summary.accepted == 2 and failed[0].id in ids  # the failed sample was tried again and passed
    assert summary.rejected == 0  # failures for want of a teacher are not judged rejects
    assert json.loads((tmp_path / "card.json").read_text())["failed"] == 2  # the two not retried yet


def _whole_lines(path: Path) -> list[bytes]:
    """The file's complete lines: a kill may leave a torn last one, which the next run cuts off."""
    return path.read_bytes().split(b"\n")[:-1] if path.exists() else []


KILLS = 5


@pytest.mark.slow
@pytest.mark.reliability
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_five_kills_mid_run_lose_repeat_and_leave_nothing(server: TeacherServer, tmp_path: Path) -> None:
    """kill -9 five times mid-run, resuming after each: nothing written is lost or changed, no sample is
    repeated, no process of a killed run lives on, and no temp file of one is left once the run ends."""
    server.delay_s = 0.05
    target = 40
    config = _config(server, {"single": 1, "parallel": 1, "no_call": 1}, target)
    config_path = tmp_path / "project.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    out = tmp_path / "out"
    temp = tmp_path / "tmp"  # the runs' own temp folder: what they leave there is theirs alone
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    cli = [sys.executable, "-m", "edgefabric.cli", "generate", str(config_path), "--out", str(out)]
    samples_path = out / "samples.jsonl"
    kept: list[bytes] = []
    killed: list[int] = []
    for round_index in range(KILLS):
        args = cli + (["--resume"] if round_index else [])
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if len(_whole_lines(samples_path)) >= len(kept) + 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        below = descendants(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed.append(process.pid)
        lines = _whole_lines(samples_path)
        assert lines[: len(kept)] == kept, f"kill {round_index + 1} changed what was written before it"
        assert len(lines) < target
        kept = lines
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in below) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in below if alive(pid)], f"kill {round_index + 1} left processes running"
    result = subprocess.run([*cli, "--resume"], capture_output=True, text=True, timeout=400, env=env)
    assert result.returncode == 0, result.stderr
    after = _whole_lines(samples_path)
    assert after[: len(kept)] == kept  # nothing written before the kills was lost or changed
    ids = [json.loads(line)["id"] for line in after]
    assert len(ids) == len(set(ids)) == target
    left = [p.name for p in temp.iterdir() if any(f"-{pid}-" in p.name for pid in killed)]
    assert left == [], "temp files of killed runs outlived the next run"
    assert not [p.name for p in out.iterdir() if p.name.endswith((".tmp", ".partial"))]


def test_the_cycle_check_keeps_samples_whose_calls_follow_from_the_request_alone(
    server: TeacherServer, tmp_path: Path
) -> None:
    config = _config(server, {"single": 1}, 2)
    config.generation.cycle_check = "on"
    server.script.tool_arguments = {"shout": [{"text": "hello"}]}  # the only call: back-translation finds it
    generate(config, tmp_path, backoff_base_s=0.01)
    samples = read_samples(tmp_path / "samples.jsonl").samples
    assert len(samples) == 2
    for sample in samples:
        assert [v.stage for v in sample.metadata.verification] == [
            "format",
            "execution",
            "grounding",
            "cycle",
            "semantic",
        ]


def test_the_cycle_check_rejects_a_sample_the_teacher_cannot_back_translate(
    server: TeacherServer, tmp_path: Path
) -> None:
    def answer(schema: dict[str, Any], body: dict[str, Any]) -> Any:
        prompt = str(body["messages"][-1].get("content") or "")
        if "Make the tool call(s) the user asks for" in prompt:
            return {"calls": [{"name": "shout", "arguments": {"text": "something else"}}]}
        return None

    config = _config(server, {"single": 1}, 2)
    config.generation.cycle_check = "on"
    server.script.tool_arguments = {"shout": [{"text": "hello"}]}
    server.script.responder = answer
    summary = generate(config, tmp_path, backoff_base_s=0.01)
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert summary.accepted == 0 and rejects
    assert {r.stage for r in rejects} == {"cycle"}
    assert rejects[0].reason == (
        'from the request alone the teacher made shout({"text": "something else"}); the sample holds shout({"text": "hello"})'
    )
    card = json.loads((tmp_path / "card.json").read_text())
    assert card["kind_shortfalls"]["single"]["accepted"] == 0  # the short kind is named, not filled
