"""`fabric-tui`: flags are handled before Textual is imported, so `--help` is instant."""

from __future__ import annotations

import argparse
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

    FabricApp(project_dir=args.project.resolve()).run()


if __name__ == "__main__":
    main()
