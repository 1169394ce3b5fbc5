"""Run benchmarks: `python -m bench` runs them all, `python -m bench sandbox runtime` a selection.

Each benchmark is a module `bench.<name>` with `main(argv) -> None` that prints a table and writes
bench/results/<name>.json; none of them is a test, and none asserts a time.
"""

from __future__ import annotations

import importlib
import sys
import time

ALL = ("sandbox", "generation", "training", "learning", "export", "runtime", "accuracy", "heldout", "server")


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from: {', '.join(ALL)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main([])  # defaults; run bench.NAME for options
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"bench.{name} failed: {exc!r}", file=sys.stderr)
        print(f"(bench.{name}: {time.perf_counter() - started:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
