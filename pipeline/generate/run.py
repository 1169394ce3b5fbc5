"""The generation run: topics, then samples with a global concurrency limit, then splits and card.

Durability: every accepted sample is appended and fsynced the moment it passes
(edgefabric.dataset.append_samples), every reject likewise to rejects.jsonl.
Sample ids are a pure function of seed, topic and index (see plan.py), so
`resume` skips exactly what was written and writes no duplicate, however the
previous process died.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefabric.config import ProjectConfig, load_yaml
from edgefabric.dataset import append_samples, count_records, read_samples
from edgefabric.errors import EdgeFabricError
from edgefabric.events import (
    EventSink,
    Note,
    PhaseStarted,
    Progress,
    SampleAccepted,
    StageDone,
    StageFailed,
    StageStarted,
    ignore_events,
)
from edgefabric.events import SampleRejected as SampleRejectedEvent
from edgefabric.pipeline.generate.callfirst import call_first_conversation
from edgefabric.pipeline.generate.card import build_card, write_card
from edgefabric.pipeline.generate.conversation import SampleRejected, generate_conversation
from edgefabric.pipeline.generate.dedup import RequestDeduper
from edgefabric.pipeline.generate.grounding import Grounder
from edgefabric.pipeline.generate.local_server import serve_teacher
from edgefabric.pipeline.generate.plan import KindPlanner, PlannedSample, kind_quotas, positions, sample_id
from edgefabric.pipeline.generate.rejects import RETRY_ON_RESUME, Reject, append_reject, read_rejects
from edgefabric.pipeline.generate.splits import write_splits
from edgefabric.pipeline.generate.teacher import Endpoint, Teacher, TeacherError
from edgefabric.pipeline.generate.tool_runner import ToolRunner
from edgefabric.pipeline.generate.topics import TopicGraph, build_topic_graph
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.pipeline.generate.values import VALUES_FILE, ValuePools
from edgefabric.pipeline.generate.verify import verify
from edgefabric.schemas import Provenance, Sample, SampleMetadata

STAGE = "generate"
SAMPLES_FILE = "samples.jsonl"
REJECTS_FILE = "rejects.jsonl"
TOPICS_FILE = "topics.json"
CONFIG_FILE = "run-config.yaml"
MAX_ATTEMPTS_FACTOR = 5  # a kind stops after this many tries per sample of its quota, whatever the accept rate
TEACHER_FAILURES_TO_STOP = 3  # this many samples in a row lost to an unreachable teacher end the run


@dataclass
class GenerateSummary:
    out_dir: Path
    accepted: int
    rejected: int
    attempts: int
    elapsed_s: float
    splits: dict[str, int] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outlook:
    """What a generation into a folder has left to do: `written` samples are there, `target` are asked for."""

    written: int
    target: int

    @property
    def remaining(self) -> int:
        return max(0, self.target - self.written)

    @property
    def complete(self) -> bool:
        """Nothing to generate: the folder already holds the target (a run would only rewrite splits and card)."""
        return self.remaining == 0

    def describe(self) -> str:
        """One plain line for the user: what a run would generate, or that there is nothing to."""
        if self.complete:
            have = f"{self.written} of {self.target}" if self.written == self.target else f"{self.written}"
            asked = "" if self.written == self.target else f" (num_samples is {self.target})"
            return f"{have} samples already written{asked}; nothing to generate — raise num_samples to add more"
        if self.written:
            return f"{self.remaining} more samples to reach {self.target} ({self.written} already written)"
        return f"{self.target} samples"


def outlook(out_dir: Path, target: int) -> Outlook:
    """The `Outlook` of generating `target` samples into `out_dir`, from the samples already there (cheap: the
    lines are counted, not parsed, so the TUI can ask before every start)."""
    return Outlook(count_records(out_dir / SAMPLES_FILE), target)


def run_started(out_dir: Path) -> bool:
    """A generation run was started in `out_dir` (samples, rejects or its saved config are there):
    generating into it again means resuming it (nothing written is lost or repeated)."""
    return any((out_dir / name).exists() for name in (SAMPLES_FILE, REJECTS_FILE, CONFIG_FILE))


def tool_sources(config: ProjectConfig) -> list[str]:
    if config.tools.mcp:
        raise EdgeFabricError(
            "generation cannot start MCP servers named in tools.mcp yet",
            "import the server's tools as a tool-set file and list its path under tools.modules",
        )
    return config.tools.sets()


def _identity(config: ProjectConfig) -> dict[str, Any]:
    """The settings that decide which samples a run plans; a resume must not change them."""
    data = config.model_dump(mode="json")
    generation = {k: v for k, v in data["generation"].items() if k not in ("num_samples", "splits")}
    return {
        "topics": data["topics"],
        "tools": data["tools"],
        "generation": generation,
        "teacher": data["teacher"]["model"],
    }


def _prepare_out_dir(config: ProjectConfig, out_dir: Path, resume: bool) -> None:
    samples_path = out_dir / SAMPLES_FILE
    saved = out_dir / CONFIG_FILE
    has_run = (samples_path.exists() and samples_path.stat().st_size > 0) or (out_dir / REJECTS_FILE).exists()
    if has_run and not resume:
        raise EdgeFabricError(
            f"{out_dir} already holds a generation run",
            "pass --resume to continue it, or choose another --out folder",
        )
    if resume and saved.exists():
        before = ProjectConfig.model_validate(load_yaml(saved.read_text(encoding="utf-8")))
        if _identity(before) != _identity(config):
            raise EdgeFabricError(
                f"the config differs from the one {out_dir} was generated with (topics, tools, kinds, seed or teacher)",
                f"resume with the saved config {saved}, or generate into a new --out folder",
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = saved.with_name(saved.name + ".tmp")
    tmp.write_text(config.to_yaml(), encoding="utf-8")
    tmp.replace(saved)


def generate(
    config: ProjectConfig,
    out_dir: Path,
    *,
    resume: bool = False,
    num_samples: int | None = None,
    on_event: EventSink = ignore_events,
    endpoint: Endpoint | None = None,
    backoff_base_s: float = 0.5,
) -> GenerateSummary:
    """Generate a dataset into `out_dir` (see the module doc); the embedded teacher is served meanwhile."""
    _prepare_out_dir(config, out_dir, resume)
    try:
        if endpoint is not None:
            return asyncio.run(_generate(config, out_dir, num_samples, on_event, endpoint, backoff_base_s))
        with serve_teacher(config.teacher, on_event=on_event) as served:
            return asyncio.run(_generate(config, out_dir, num_samples, on_event, served, backoff_base_s))
    except EdgeFabricError as exc:
        on_event(StageFailed(STAGE, exc.message))
        raise


def _load_toolbox(sources: list[str], on_event: EventSink) -> Any:
    from edgefabric.runtime.sandbox import load_toolbox

    on_event(PhaseStarted(STAGE, "building the sandbox"))
    return load_toolbox(sources, on_event=on_event)


async def _topics(config: ProjectConfig, out_dir: Path, teacher: Teacher, on_event: EventSink) -> TopicGraph:
    path = out_dir / TOPICS_FILE
    if path.exists():
        graph = TopicGraph.load(path)
        if graph.matches(config.topics):
            on_event(Note("topics", f"reusing {path} ({len(graph.nodes)} topics)"))
            return graph
        on_event(Note("topics", f"{path} was built from other topic settings; rebuilding it"))
    graph = await build_topic_graph(teacher, config.topics, on_event=on_event)
    graph.save(path)
    return graph


async def _generate(
    config: ProjectConfig,
    out_dir: Path,
    num_samples: int | None,
    on_event: EventSink,
    endpoint: Endpoint,
    backoff_base_s: float,
) -> GenerateSummary:
    started = time.monotonic()
    gen = config.generation
    target = num_samples or gen.num_samples
    sources = tool_sources(config)
    box = _load_toolbox(sources, on_event)
    tools = list(box.specs)
    scenarios = list(box.scenarios())
    teacher = Teacher(config.teacher, endpoint, backoff_base_s=backoff_base_s)
    graph = await _topics(config, out_dir, teacher, on_event)

    samples_path = out_dir / SAMPLES_FILE
    rejects_path = out_dir / REJECTS_FILE
    existing = read_samples(samples_path, strict=False).samples if samples_path.exists() else []
    accepted_ids = {s.id for s in existing}
    rejected_ids = {r.id for r in read_rejects(rejects_path) if r.stage != RETRY_ON_RESUME} - accepted_ids
    call_first = gen.resolved_mode(config.teacher) == "call_first"
    # Call-first requests of one task shape share a form by design ("what is {A}?") and differ in
    # their drawn values, so only an exact repeat is a duplicate; the card reports the near-duplicate rate.
    deduper = RequestDeduper(1.0 if call_first else config.topics.similarity_threshold, existing)
    accepted, rejected_now, accepted_now = len(accepted_ids), 0, 0
    planner = KindPlanner(kind_quotas(gen.kinds, target), tries_factor=MAX_ATTEMPTS_FACTOR)
    for old in existing:
        planner.accepted[old.metadata.kind or "single"] += 1
        planner.tried[old.metadata.kind or "single"] += 1
    for old_reject in read_rejects(rejects_path):
        if old_reject.id in rejected_ids:
            planner.tried[old_reject.kind] += 1
    pools = ValuePools.load(out_dir / VALUES_FILE)
    grounder = Grounder()
    cycle_teacher = teacher if gen.cycle_check_on(config.teacher) else None
    on_event(
        Note(
            STAGE,
            f"{'call-first' if call_first else 'request-first'} generation; quotas per kind: "
            + ", ".join(f"{k} {q}" for k, q in planner.quotas.items())
            + f"; cycle check {'on' if cycle_teacher else 'off'}",
        )
    )
    ahead = Outlook(accepted, target)
    if ahead.complete:
        # Said plainly before anything else, and no count that reads as work to come (issue 15, problem 6).
        on_event(Note(STAGE, ahead.describe(), level="warning"))
        detail = ahead.describe()
    else:
        detail = f"{ahead.describe()} with {teacher.endpoint.label}, tools {', '.join(sorted(t.name for t in tools))}"
    on_event(StageStarted(STAGE, total=target, detail=detail))
    # The figures a resumed run starts from, so no bar starts at 0 with samples on disk.
    on_event(_progress(accepted, target, 0, 0, 0.0))
    runner = ToolRunner(box)

    async def make(planned: PlannedSample) -> tuple[PlannedSample, Sample | None, Reject | None]:
        usage = Usage()
        scenario = scenarios[planned.index % len(scenarios)] if scenarios else None
        messages: list[Any] = []
        try:
            if call_first:
                conversation = await call_first_conversation(
                    teacher,
                    runner,
                    tools,
                    planned,
                    scenario=scenario,
                    pools=pools,
                    grounder=grounder,
                    seed=gen.seed,
                    usage=usage,
                    is_duplicate=deduper.twin,
                )
            else:
                conversation = await generate_conversation(
                    teacher,
                    runner,
                    tools,
                    planned,
                    scenario=scenario,
                    max_steps=gen.max_steps,
                    usage=usage,
                    is_duplicate=deduper.twin,
                )
            messages = [m.to_openai() for m in conversation.messages]
            try:
                outcome = await verify(
                    planned.kind,
                    conversation,
                    tools,
                    family=config.model.family,
                    teacher=teacher if gen.semantic_check else None,
                    usage=usage,
                    grounder=grounder,
                    cycle_teacher=cycle_teacher,
                )
            except TeacherError as exc:
                raise SampleRejected("teacher", exc.problem, conversation.messages) from None
            if outcome.failed is not None:
                raise SampleRejected(outcome.failed.stage, outcome.failed.detail, conversation.messages)
            extra = {
                "index": planned.index,
                "usage": usage.as_dict(),
                "scenario": planned.index % len(scenarios) if scenarios else None,
                "request_source": conversation.request_source,
                "answer_source": conversation.answer_source,
                "grounding_discarded": conversation.discarded_grounding,
                "executions": [
                    {"tool": e.call.name, "ok": e.ok, "error_kind": e.error_kind, "elapsed_ms": round(e.elapsed_ms, 3)}
                    for e in conversation.executions
                ],
            }
            sample = Sample(
                id=planned.id,
                messages=conversation.messages,
                tools=tools,
                topic_path=planned.topic.path,
                metadata=SampleMetadata(
                    kind=planned.kind,
                    provenance=Provenance(teacher=teacher.endpoint.label, tool_set=",".join(sources), seed=gen.seed),
                    verification=outcome.verifications,
                    extra=extra,
                ),
            )
            return planned, sample, None
        except SampleRejected as exc:
            messages = messages or [m.to_openai() for m in exc.messages]
            stage, reason = exc.stage, exc.reason
        except ValueError as exc:  # a Sample that does not validate
            stage, reason = "format", str(exc).splitlines()[0]
        reject = Reject(
            id=planned.id,
            index=planned.index,
            kind=planned.kind,
            topic_path=planned.topic.path,
            stage=stage,
            reason=reason,
            messages=messages,
            usage=usage.as_dict(),
        )
        return planned, None, reject

    plan = positions(graph, gen.seed)
    in_flight: set[asyncio.Task[tuple[PlannedSample, Sample | None, Reject | None]]] = set()
    attempts = 0
    teacher_failures = 0
    try:
        while True:
            while accepted + len(in_flight) < target and len(in_flight) < config.teacher.concurrency:
                kind = planner.next_kind()
                if kind is None:  # every kind is full or out of tries
                    break
                index, topic = next(plan)
                kind_index = planner.tried[kind] + planner.in_flight[kind]
                planned = PlannedSample(index, sample_id(gen.seed, topic.id, index), kind, topic, kind_index)
                if planned.id in accepted_ids or planned.id in rejected_ids:
                    continue
                planner.start(kind)
                in_flight.add(asyncio.create_task(make(planned)))
            if not in_flight:
                break
            finished, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                planned, sample, reject = task.result()
                attempts += 1
                in_planner = True
                if sample is not None:
                    twin = deduper.twin(next(m.content or "" for m in sample.messages if m.role == "user"))
                    if twin is not None:  # another task accepted a near-twin while this one ran
                        reject = Reject(
                            id=sample.id,
                            index=planned.index,
                            kind=planned.kind,
                            topic_path=sample.topic_path,
                            stage="dedup",
                            reason=f"the user request nearly repeats sample {twin}",
                            messages=[m.to_openai() for m in sample.messages],
                            usage=sample.metadata.extra.get("usage", {}),
                        )
                        sample = None
                if sample is not None and accepted < target:
                    planner.finish(planned.kind, accepted=True)
                    in_planner = False
                    append_samples(samples_path, [sample])
                    deduper.add(sample)
                    accepted_ids.add(sample.id)
                    accepted += 1
                    accepted_now += 1
                    on_event(SampleAccepted(STAGE, sample.id, planned.kind))
                elif reject is not None:
                    append_reject(rejects_path, reject)
                    teacher_failures = teacher_failures + 1 if reject.stage == RETRY_ON_RESUME else 0
                    rejected_ids.add(reject.id)
                    rejected_now += 1
                    on_event(SampleRejectedEvent(STAGE, reject.id, planned.kind, reject.stage, reject.reason))
                if in_planner:
                    # a teacher that could not be reached has not judged the sample: no try spent
                    planner.finish(planned.kind, accepted=False)
                    if reject is not None and reject.stage == RETRY_ON_RESUME:
                        planner.tried[planned.kind] -= 1
                if sample is not None:
                    teacher_failures = 0
                on_event(_progress(accepted, target, accepted_now, rejected_now, time.monotonic() - started))
                if teacher_failures >= max(TEACHER_FAILURES_TO_STOP, config.teacher.concurrency):
                    raise EdgeFabricError(
                        f"the teacher failed {teacher_failures} samples in a row; the last: {reject.reason if reject else ''}",
                        "check the teacher (server, model name, key), then run again with --resume: "
                        "accepted samples are kept and the failed ones are tried again",
                    )
    finally:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        runner.close()
    shortfalls = planner.shortfalls() if accepted < target else {}
    for short_kind, counts in shortfalls.items():
        reason = _top_reason(read_rejects(rejects_path), short_kind)
        counts_text = f"{counts['accepted']}/{counts['quota']} accepted after {counts['tries']} tries"
        on_event(Note(STAGE, f"kind {short_kind}: {counts_text}; most common reject: {reason}", level="warning"))
    summary = _finish(config, out_dir, graph, teacher, sources, started, attempts, planner.quotas, shortfalls)
    for warning in summary.card["diversity"]["warnings"]:
        on_event(Note(STAGE, f"low diversity: {warning} (card.md lists every parameter)", level="warning"))
    on_event(
        StageDone(
            STAGE,
            {
                "accepted": summary.accepted,
                "rejected": summary.rejected,
                "accepted_now": accepted_now,
                "rejected_now": rejected_now,
                "splits": summary.splits,
                "out_dir": str(out_dir),
            },
        )
    )
    return summary


def _progress(accepted: int, target: int, accepted_now: int, rejected_now: int, elapsed: float) -> Progress:
    attempts = accepted_now + rejected_now
    per_min = accepted_now / elapsed * 60 if elapsed > 0 else 0.0
    remaining = max(0, target - accepted)
    metrics = {
        "accepted": float(accepted),
        "rejected": float(rejected_now),
        "accept_rate": accepted_now / attempts if attempts else 0.0,
        "samples_per_min": per_min,
    }
    if per_min > 0:
        metrics["eta_s"] = remaining / per_min * 60
    return Progress(STAGE, done=accepted, total=target, metrics=metrics)


def _top_reason(rejects: list[Reject], kind: str) -> str:
    reasons = [f"{r.stage}: {r.reason.split(':')[0][:100]}" for r in rejects if r.kind == kind]
    return max(set(reasons), key=reasons.count) if reasons else "none recorded"


def _finish(
    config: ProjectConfig,
    out_dir: Path,
    graph: TopicGraph,
    teacher: Teacher,
    sources: list[str],
    started: float,
    attempts: int,
    quotas: dict[str, int],
    shortfalls: dict[str, dict[str, int]],
) -> GenerateSummary:
    samples = read_samples(out_dir / SAMPLES_FILE, strict=False).samples if (out_dir / SAMPLES_FILE).exists() else []
    rejects = read_rejects(out_dir / REJECTS_FILE)
    splits = write_splits(samples, out_dir, config.generation.splits, config.generation.seed)
    card = build_card(
        samples,
        rejects,
        graph,
        teacher=teacher.endpoint.label or teacher.endpoint.model,
        tool_sets=sources,
        split_counts=splits,
        semantic_check=config.generation.semantic_check,
        quotas=quotas,
        shortfalls={k: {**v, "top_reason": _top_reason(rejects, k)} for k, v in shortfalls.items()},
    )
    write_card(card, out_dir)
    return GenerateSummary(
        out_dir=out_dir,
        accepted=len(samples),
        rejected=card["rejected"],
        attempts=attempts,
        elapsed_s=time.monotonic() - started,
        splits=splits,
        card=card,
    )
