"""How requests write their command lines: paths relative to where the command runs, shell-quoted."""

from __future__ import annotations

import shlex
from pathlib import Path


def shown_path(path: Path | str, cwd: Path | None) -> str:
    """`path` as a command line should show it: relative to `cwd` when it lies under it, else as given.

    A model spec such as `embedded:gemma3-270m` or a hub id is returned unchanged. Not quoted.
    """
    if cwd is None or (isinstance(path, str) and ":" in path.split("/", 1)[0]):
        return str(path)
    candidate = Path(path)
    if not candidate.is_absolute():
        return str(path)
    try:
        return str(candidate.relative_to(cwd))
    except ValueError:
        return str(path)


def quoted_path(path: Path | str, cwd: Path | None) -> str:
    """`shown_path`, shell-quoted."""
    return shlex.quote(shown_path(path, cwd))


def at(path: Path, root: Path) -> Path:
    """`path` taken as relative to `root` (where a parsed command runs) unless it is absolute."""
    return path if path.is_absolute() else root / path


def in_folder(root: Path, command: str) -> str:
    """`cd ROOT && COMMAND`: a line a user can paste anywhere."""
    return f"cd {shlex.quote(str(root))} && {command}"
