"""`edgefabric eval`: value-level tool-calling metrics; `eval compare`; `improve` from a report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from edgefabric.cli.chat_cmd import (
    BACKEND_HELP,
    CONSTRAIN_HELP,
    FAMILY_HELP,
    MAX_TOKENS_HELP,
    PROFILE_HELP,
    QUIET_HELP,
    THREADS_HELP,
)
from edgefabric.cli.plain_progress import plain_progress
from edgefabric.errors import EdgeFabricError

if TYPE_CHECKING:
    from edgefabric.app.evaluate import EvalRequest
    from edgefabric.app.improve import ImproveRequest


class _RunByDefault(TyperGroup):
    """`edgefabric eval MODEL ...` runs an eval; `edgefabric eval compare ...` compares reports."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer vendors click's Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_RunByDefault, help="Evaluate models (edgefabric eval MODEL ...; eval compare A.json B.json).")


def eval_request(
    *,
    model: str,
    samples: list[Path],
    bfcl: list[Path],
    answers: Path | None,
    tools: list[str],
    family: str | None,
    backend: str,
    profile: str,
    constrained: str,
    max_samples: int | None,
    max_steps: int,
    max_tokens: int | None,
    out: Path,
    **_display: object,  # --threads and --quiet shape how it runs here, not what is evaluated
) -> EvalRequest:
    """The request `edgefabric eval` runs, from its parsed options (also used to parse the TUI's command)."""
    from edgefabric.app.evaluate import EvalRequest

    return EvalRequest(
        model=model,
        samples=tuple(samples),
        bfcl=tuple(bfcl),
        answers=answers,
        tools=tuple(tools),
        family=family,
        backend=backend,
        profile=profile,
        constrained=constrained,
        max_samples=max_samples,
        max_steps=max_steps,
        max_tokens=max_tokens,
        out=out,
    )


@app.command("run")
def run(
    model: str = typer.Argument(..., help="A .gguf file, an ONNX or HF folder, or an embedded model."),
    samples: list[Path] = typer.Option([], "--samples", "-s", help="Held-out Sample JSONL (repeatable)."),
    bfcl: list[Path] = typer.Option([], "--bfcl", help="BFCL question file; answers from possible_answer/ beside it."),
    answers: Path | None = typer.Option(None, help="BFCL possible-answer file (for a single --bfcl)."),
    tools: list[str] = typer.Option([], "--tools", "-t", help="Tool sets to execute calls in the sandbox."),
    family: str | None = typer.Option(None, help=FAMILY_HELP),
    backend: str = typer.Option("auto", help=BACKEND_HELP),
    profile: str = typer.Option("laptop", help=PROFILE_HELP),
    constrained: str = typer.Option("off", help=CONSTRAIN_HELP),
    max_samples: int | None = typer.Option(None, min=1, help="Evaluate at most this many cases per source."),
    max_steps: int = typer.Option(4, min=1, max=16),
    max_tokens: int | None = typer.Option(None, min=1, help=MAX_TOKENS_HELP),
    out: Path = typer.Option(Path("eval-report.json"), "--out", "-o", help="Where to write the JSON report."),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
) -> None:
    """Run MODEL on held-out samples and/or BFCL-layout files and print every metric."""
    from edgefabric.app.evaluate import run_eval
    from edgefabric.events import Note, PhaseStarted
    from edgefabric.events import Progress as ProgressEvent
    from edgefabric.pipeline.evaluate.report import print_report
    from edgefabric.runtime.threads import set_override

    set_override(threads)
    request = eval_request(
        model=model,
        samples=samples,
        bfcl=bfcl,
        answers=answers,
        tools=tools,
        family=family,
        backend=backend,
        profile=profile,
        constrained=constrained,
        max_samples=max_samples,
        max_steps=max_steps,
        max_tokens=max_tokens,
        out=out,
    )
    request.check()
    console = Console()
    with Progress(
        TextColumn("eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("eval", total=None, rate="")
        lines = plain_progress(console, quiet)
        if lines is not None:
            lines.start("eval")

        def on_event(event: Any) -> None:
            if isinstance(event, PhaseStarted) and event.stage == "eval":
                bar.update(task, rate=event.describe())
            elif isinstance(event, Note) and event.stage == "eval":
                bar.update(task, rate=event.text)
            elif isinstance(event, ProgressEvent) and event.stage == "eval":
                rate = event.metrics.get("pass_rate")
                shown = f"pass {rate:.0%}" if rate is not None else ""
                bar.update(task, completed=event.done, total=event.total, rate=shown)
                if lines is not None:
                    lines.update("eval", event.done, event.total, shown)

        report = run_eval(request, on_event=on_event)
    print_report(report, console)
    console.print(f"report: {out}", highlight=False)


@app.command("compare")
def compare(
    reports: list[Path] = typer.Argument(..., help="Eval report JSON files (base, fine-tuned, each quant...)."),
) -> None:
    """Show several eval reports side by side."""
    from edgefabric.pipeline.evaluate.report import compare_table, load_report

    if len(reports) < 2:
        raise EdgeFabricError("compare needs at least two reports", "pass two or more eval report files")
    loaded = [(path.stem, load_report(path)) for path in reports]
    Console().print(compare_table(loaded))


def improve_request(
    *,
    run_path: Path,
    num_samples: int,
    config_out: Path | None,
    config: Path | None,
    chain: bool,
    train_steps: int | None,
    max_eval: int | None,
) -> ImproveRequest:
    """The request `edgefabric improve` runs, from its parsed options (also used to parse the TUI's command)."""
    from edgefabric.app.improve import ImproveRequest

    return ImproveRequest(
        report=run_path,
        config=config,
        config_out=config_out,
        num_samples=num_samples,
        chain=chain,
        train_steps=train_steps,
        max_eval=max_eval,
    )


def improve(
    run_path: Path = typer.Argument(
        ..., metavar="RUN", help="An eval report JSON, or a folder holding eval-report.json."
    ),
    num_samples: int = typer.Option(50, min=1, help="How many new samples the next round should generate."),
    config_out: Path | None = typer.Option(None, "--config-out", help="Write the next round's project config here."),
    config: Path | None = typer.Option(None, "--config", help="The project config to start from."),
    chain: bool = typer.Option(
        False, "--chain", help="Also run the round: generate -> train -> eval (needs --config)."
    ),
    train_steps: int | None = typer.Option(None, min=1, help="With --chain: cap the training steps."),
    max_eval: int | None = typer.Option(None, min=1, help="With --chain: evaluate at most this many test samples."),
) -> None:
    """Find the weakest tools/kinds in an eval report and plan the next data round (recorded per round)."""
    from rich.table import Table

    from edgefabric.app.improve import run_improve

    request = improve_request(
        run_path=run_path,
        num_samples=num_samples,
        config_out=config_out,
        config=config,
        chain=chain,
        train_steps=train_steps,
        max_eval=max_eval,
    )
    result = run_improve(request)
    report, plan, entry = result.report, result.plan, result.round
    target, report_path = result.config_out, request.report_path
    console = Console()
    table = Table(title=f"improve: round {entry.round} from {report_path.name} (overall {report.overall or 0:.1%})")
    table.add_column("weakest")
    table.add_column("n", justify="right")
    table.add_column("pass rate", justify="right")
    for weak in plan.weakest_kinds:
        table.add_row(f"kind {weak.name}", str(weak.n), f"{weak.pass_rate:.0%}")
    for weak in plan.weakest_tools:
        table.add_row(f"tool {weak.name}", str(weak.n), f"{weak.pass_rate:.0%}")
    console.print(table)
    console.print("next round's kind weights: " + ", ".join(f"{k} {w:.2f}" for k, w in plan.kind_weights.items()))
    if plan.tool_weights:
        console.print("tool focus: " + ", ".join(f"{k} {w:.2f}" for k, w in plan.tool_weights.items()))
    console.print(f"config for the next round: {target}", highlight=False)
    rounds = result.rounds
    console.print(
        "rounds so far: "
        + ", ".join(
            f"#{r.round} {r.overall or 0:.1%}" + (f" -> {r.result_overall or 0:.1%}" if r.result_report else "")
            for r in rounds
        )
    )
    if not chain:
        console.print(
            "[dim]next: run generate, train and eval with the config above (or pass --chain --config to do it "
            "here), then `edgefabric improve` on the new report[/]"
        )
