"""Held-out requests for the `math` tools, written by hand: how the fine-tuned model does on messages
that no generator wrote.

The project's own test split comes from the same generator as its training data, so it
flatters the model. These 32 cases were written by a person, as users type: casual,
terse, with typos, numbers as words, units by name, a value inside a longer sentence,
two requests in one message, and messages no tool serves (small talk and near misses).
They are not used to generate or train anything. A proxy, not the real thing: requests
written by people who never saw EdgeFabric will differ again.

    .venv/bin/python -m bench.heldout write            # (re)writes bench/heldout/math.jsonl
    .venv/bin/python -m bench.heldout eval [MODEL.gguf ...] [--family functiongemma]

(default models: the untrained base and the demo's fine-tuned q8_0 GGUF, demo-project/).

`eval` runs `edgefabric eval run` on each model (phone profile, 3 steps, the demo's
settings) and writes bench/results/heldout.json with every metric per model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASES_FILE = ROOT / "bench" / "heldout" / "math.jsonl"
RESULTS = ROOT / "bench" / "results" / "heldout.json"
EDGEFABRIC = str(Path(sys.executable).with_name("edgefabric"))
DEMO_GGUF = ROOT / "demo-project" / "exports" / "demo" / "model-q8_0.gguf"

C = "calculate"
U = "convert_units"


def _unit(value: float, from_unit: str, to_unit: str) -> tuple[str, dict[str, Any]]:
    return U, {"value": value, "from_unit": from_unit, "to_unit": to_unit}


# (message, calls): calls [] = the right answer calls no tool.
CASES: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = [
    ("hey what is 17 times 23", [(C, {"expression": "17 * 23"})]),
    ("need to split an 84 dollar dinner bill between 4 people, how much each?", [(C, {"expression": "84 / 4"})]),
    ("whats 15% of 240", [(C, {"expression": "0.15 * 240"})]),
    ("square root of 729?", [(C, {"expression": "sqrt(729)"})]),
    ("Could you add up 12.5, 7.25 and 3?", [(C, {"expression": "12.5 + 7.25 + 3"})]),
    ("2 to the 10th power pls", [(C, {"expression": "2 ** 10"})]),
    ("I drove 350 km on 28 liters of fuel, how many km per liter is that", [(C, {"expression": "350 / 28"})]),
    ("calc (45 + 55) * 3", [(C, {"expression": "(45 + 55) * 3"})]),
    ("what do i get if i take 1000 and subtract 387", [(C, {"expression": "1000 - 387"})]),
    ("how much is nine times eight", [(C, {"expression": "9 * 8"})]),
    ("multiply 3.5 by 12 for me", [(C, {"expression": "3.5 * 12"})]),
    ("how far is 5 miles in km?", [_unit(5, "mi", "km")]),
    ("I weigh 150 pounds, what's that in kilograms", [_unit(150, "lb", "kg")]),
    ("oven says 180 celsius, what is it in fahrenheit?", [_unit(180, "C", "F")]),
    ("recipe needs 2 cups of milk, how many ml is that", [_unit(2, "cup", "ml")]),
    ("convert six feet into meters", [_unit(6, "ft", "m")]),
    ("90 minutes is how many hours?", [_unit(90, "min", "h")]),
    ("my download is 4 GiB, how many MB is taht?", [_unit(4, "GiB", "MB")]),
    ("running at 12 km/h, what's my speed in mph", [_unit(12, "km/h", "mph")]),
    ("a marathon is 26.2 miles, give me kilometers", [_unit(26.2, "mi", "km")]),
    (
        "what's 48 divided by 6, and also how many ounces are in 2 kilograms?",
        [(C, {"expression": "48 / 6"}), _unit(2, "kg", "oz")],
    ),
    ("Convert 10 gallons to liters and compute 7 * 13", [_unit(10, "gal", "l"), (C, {"expression": "7 * 13"})]),
    ("two things: 250 grams in ounces, and 33 + 67", [_unit(250, "g", "oz"), (C, {"expression": "33 + 67"})]),
    ("how many seconds in 3 hours? also what is 144 / 12", [_unit(3, "h", "s"), (C, {"expression": "144 / 12"})]),
    ("thanks, that's all for now!", []),
    ("good morning! how are you today?", []),
    ("can you explain why the metric system is better?", []),
    ("what's the weather going to be like tomorrow?", []),
    ("tell me a joke about math teachers", []),
    ("who invented the calculator?", []),
    ("book me a taxi to the airport", []),
    ("lol ok", []),
]


def write() -> Path:
    """Build the cases as samples (each call run for real by the tool set's own Python) into CASES_FILE."""
    from edgefabric.dataset import append_samples
    from edgefabric.runtime.sandbox.modules import builtin_path, load_module
    from edgefabric.runtime.toolsets import math_tools
    from edgefabric.schemas import Message, Sample, SampleMetadata, ToolCall

    tools = load_module(builtin_path("math"), "math").specs
    samples = []
    for index, (text, calls) in enumerate(CASES):
        messages = [Message(role="user", content=text)]
        if calls:
            tool_calls = [ToolCall(name=name, arguments=args, id=f"call_{i}") for i, (name, args) in enumerate(calls)]
            messages.append(Message(role="assistant", tool_calls=tool_calls))
            for call in tool_calls:
                result = getattr(math_tools, call.name)(**call.arguments)
                messages.append(Message(role="tool", tool_call_id=call.id, name=call.name, content=json.dumps(result)))
            messages.append(Message(role="assistant", content="Done."))
        else:
            messages.append(Message(role="assistant", content="Happy to chat, but no tool is needed for that."))
        kind = "no_call" if not calls else "parallel" if len(calls) > 1 else "single"
        samples.append(
            Sample(id=f"heldout-math-{index:02d}", messages=messages, tools=tools, metadata=SampleMetadata(kind=kind))
        )
    CASES_FILE.parent.mkdir(parents=True, exist_ok=True)
    tmp = CASES_FILE.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    append_samples(tmp, samples)
    tmp.replace(CASES_FILE)
    return CASES_FILE


def evaluate(models: list[str], family: str) -> dict[str, Any]:
    """`edgefabric eval run` of each model on CASES_FILE; every metric per model, written to RESULTS."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            report = Path(tmp) / "report.json"
            command = [EDGEFABRIC, "eval", "run", model, "-s", str(CASES_FILE), "-t", "math", "--family", family]
            command += ["--profile", "phone", "--max-steps", "3", "-o", str(report), "-q"]
            started = time.perf_counter()
            subprocess.run(command, check=True)
            result = json.loads(report.read_text())
            rows.append(
                {
                    "model": model,
                    "seconds": round(time.perf_counter() - started, 1),
                    **{k: result[k] for k in ("n", "overall", "summary", "metrics", "counts")},
                }
            )
            print(f"{model}: {result['summary']}", flush=True)
    payload = {"cases": str(CASES_FILE.relative_to(ROOT)), "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    RESULTS.write_text(json.dumps(payload, indent=2))
    return payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("write", "eval"), default="eval")
    parser.add_argument("models", nargs="*", help=f"default: the base and {DEMO_GGUF.relative_to(ROOT)}")
    parser.add_argument("--family", default="functiongemma")
    args = parser.parse_args(argv)
    if args.command == "write":
        print(f"wrote {write()}")
        return
    models = args.models or ["embedded:gemma3-270m", *([str(DEMO_GGUF)] if DEMO_GGUF.exists() else [])]
    evaluate(models, args.family)


if __name__ == "__main__":
    main()
