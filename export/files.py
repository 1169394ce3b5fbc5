"""Writing outputs safely: temp names renamed at the end, full disks turned into clear errors."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgefabric.errors import EdgeFabricError

PARTIAL = ".partial"
FAILED_MARK = "-FAILED"  # in the file name of an export that failed its parity check


def partial_path(target: Path) -> Path:
    return target.with_name(target.name + PARTIAL)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def disk_full_error(target: Path, detail: str = "") -> EdgeFabricError:
    free = shutil.disk_usage(target.parent if target.parent.exists() else Path.cwd()).free
    return EdgeFabricError(
        f"the disk filled up while writing {target.name} ({free / 1e6:.1f} MB free){detail}; nothing was kept",
        f"free space on {target.parent} or pass --out on a disk with more room, then run the export again",
    )


def check_free_space(target: Path, needed: int) -> None:
    """Refuse before hours of work when the output cannot fit."""
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < needed:
        raise EdgeFabricError(
            f"{target.name} needs about {needed / 1e6:.1f} MB but {target.parent} has {free / 1e6:.1f} MB free",
            "free some space or pass --out on a bigger disk",
        )


@contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temp path (file or folder) that becomes `target` only if the block succeeds."""
    partial = partial_path(target)
    remove(partial)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield partial
    except OSError as exc:
        remove(partial)
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise disk_full_error(target) from None
        raise
    except BaseException:
        remove(partial)
        raise
    if not partial.exists():
        raise EdgeFabricError(f"the exporter wrote nothing to {partial}", "see the messages above")
    remove(target)
    os.replace(partial, target)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
