"""Process checks for the kill tests, read from Linux's /proc."""

from __future__ import annotations

from pathlib import Path


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for a reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def descendants(pid: int, needle: bytes = b"") -> list[int]:
    """Every live process below `pid` (children, their children, ...) whose command line holds `needle`.

    Read before `pid` is killed: its orphans are then re-parented and no longer found this way.
    """
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    matching = []
    for child in found:
        try:
            if needle in Path(f"/proc/{child}/cmdline").read_bytes() and alive(child):
                matching.append(child)
        except OSError:
            continue
    return matching
