"""`fabric-tui`: flags are handled before Textual is imported, so `--help` is instant."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="fabric-tui",
        description="EdgeFabric's terminal app: generate data, train, export, chat and evaluate.",
    )
    parser.add_argument(
        "project", nargs="?", type=Path, default=Path.cwd(), help="project folder (default: the current one)"
    )
    args = parser.parse_args(argv)

    from edgefabric.tui.app import FabricApp

    app = FabricApp(project_dir=args.project.resolve())
    app.run()
    unfinished = app.jobs.running()
    if unfinished:
        # The terminal is restored; a stage thread is still inside a unit of work (a teacher call,
        # a training step). Ending the process now loses only that unit: finished work is on disk,
        # and the teacher server ends with us (its watchdog). A normal exit would join the stage's
        # helper threads (asyncio's and concurrent.futures' executors) and hang for the whole unit.
        names = ", ".join(job.title for job in unfinished)
        print(f"fabric-tui: stopped {names} mid-unit; everything it finished is on disk (start it again to resume).")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
