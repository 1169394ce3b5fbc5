"""Disk use of a session folder. wasmtime has no disk quotas, so the host measures and enforces them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgefabric.runtime.sandbox.limits import SandboxLimits


@dataclass(frozen=True)
class DiskUse:
    bytes: int
    entries: int

    def exceeds(self, limits: SandboxLimits) -> bool:
        return self.bytes > limits.scratch_bytes or self.entries > limits.scratch_files

    def describe(self, limits: SandboxLimits) -> str:
        return (
            f"{self.bytes / 2**20:.1f} MiB in {self.entries} files and folders; "
            f"the limit is {limits.scratch_bytes / 2**20:.0f} MiB and {limits.scratch_files} entries"
        )


def disk_use(root: Path) -> DiskUse:
    """Bytes and entries under root; a sparse file counts at its apparent size (what reading it costs)."""
    total = entries = 0
    stack = [root]
    while stack:
        try:
            with os.scandir(stack.pop()) as iterator:
                for entry in iterator:
                    entries += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    else:
                        total += max(info.st_size, info.st_blocks * 512)
        except OSError:
            continue
    return DiskUse(total, entries)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under root, (-1, -1) for folders: to find what a call created or changed."""
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = (-1, -1)
        for name in files:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return found


def roll_back(root: Path, before: dict[str, tuple[int, int]]) -> list[str]:
    """Delete what was created or changed since `before` (the call that grew it was stopped mid-write)."""
    removed = []
    after = snapshot(root)
    for relative, stamp in after.items():
        if stamp != (-1, -1) and before.get(relative) != stamp:
            try:
                os.remove(root / relative)
                removed.append(relative)
            except OSError:
                pass
    # Deepest folders first, so a new folder is empty by the time it is removed.
    for relative in sorted((r for r, s in after.items() if s == (-1, -1) and r not in before), key=len, reverse=True):
        try:
            os.rmdir(root / relative)
            removed.append(relative + "/")
        except OSError:
            pass
    return sorted(removed)
