"""Files in the session's scratch folder: read, write, list, delete and search text files."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

MAX_READ_BYTES = 256_000
MAX_MATCHES = 100
RESERVED = ".state"  # where tool sets keep their state; not the user's files


def _root() -> Path:
    # The sandbox preopens the scratch dir as /scratch; EDGEFABRIC_SCRATCH serves direct (benchmark) calls.
    return Path(os.environ.get("EDGEFABRIC_SCRATCH", "/scratch"))


def _resolve(path: str) -> Path:
    relative = PurePosixPath(path.strip().removeprefix("/scratch").lstrip("/") or ".")
    if ".." in relative.parts:
        raise ValueError(f"path {path!r} leaves the scratch folder ('..' is not allowed); use a path inside it")
    if relative.parts and relative.parts[0] == RESERVED:
        raise ValueError(f"path {path!r} is reserved for tool state; choose another name")
    return _root() / relative


def _shown(target: Path) -> str:
    return target.relative_to(_root()).as_posix()


def read_file(path: str) -> dict:
    """Read a text file from the scratch folder.

    Args:
        path: File path relative to the scratch folder, e.g. "notes/todo.txt".
    """
    target = _resolve(path)
    if target.is_dir():
        raise ValueError(f"{path!r} is a folder; use list_files to see what it holds")
    if not target.is_file():
        raise FileNotFoundError(f"no file {path!r}; use list_files to see the existing files")
    size = target.stat().st_size
    with open(target, "rb") as handle:
        data = handle.read(MAX_READ_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path!r} is not a UTF-8 text file") from None
    return {"path": _shown(target), "content": text, "bytes": size, "truncated": size > MAX_READ_BYTES}


def write_file(path: str, content: str, append: bool = False) -> dict:
    """Write text to a file in the scratch folder, creating folders as needed.

    Args:
        path: File path relative to the scratch folder.
        content: The text to write.
        append: Add to the end of the file instead of replacing it.
    """
    target = _resolve(path)
    if target == _root() or target.is_dir():
        raise ValueError(f"{path!r} is a folder; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a" if append else "w", encoding="utf-8") as handle:
        handle.write(content)
    return {"path": _shown(target), "bytes": target.stat().st_size, "appended": append}


def list_files(path: str = ".") -> dict:
    """List the files and folders in a folder of the scratch folder.

    Args:
        path: Folder relative to the scratch folder; "." is the scratch folder itself.
    """
    target = _resolve(path)
    if not target.is_dir():
        raise FileNotFoundError(f"no folder {path!r}")
    entries = []
    for child in sorted(target.iterdir()):
        if child.name == RESERVED and target == _root():
            continue
        kind = "folder" if child.is_dir() else "file"
        entry: dict[str, object] = {"name": child.name, "type": kind}
        if kind == "file":
            entry["bytes"] = child.stat().st_size
        entries.append(entry)
    return {"path": _shown(target) if target != _root() else ".", "entries": entries}


def delete_file(path: str) -> dict:
    """Delete a file (or an empty folder) from the scratch folder.

    Args:
        path: File path relative to the scratch folder.
    """
    target = _resolve(path)
    if target == _root():
        raise ValueError("cannot delete the scratch folder itself")
    if target.is_dir():
        if any(target.iterdir()):
            raise ValueError(f"folder {path!r} is not empty; delete its files first")
        target.rmdir()
    elif target.is_file():
        target.unlink()
    else:
        raise FileNotFoundError(f"no file {path!r}; use list_files to see the existing files")
    return {"deleted": _shown(target)}


def search_text(query: str, path: str = ".", case_sensitive: bool = False) -> dict:
    """Find the lines containing some text in the files under a folder.

    Args:
        query: The text to look for.
        path: Folder (or file) to search, relative to the scratch folder.
        case_sensitive: Match upper and lower case exactly.
    """
    if not query:
        raise ValueError("query is empty; give the text to search for")
    target = _resolve(path)
    if not target.exists():
        raise FileNotFoundError(f"no file or folder {path!r}")
    needle = query if case_sensitive else query.lower()
    files = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    matches = []
    for file in files:
        relative = _shown(file)
        if relative.split("/", 1)[0] == RESERVED:
            continue
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(lines, start=1):
            if needle in (line if case_sensitive else line.lower()):
                matches.append({"path": relative, "line": number, "text": line[:200]})
                if len(matches) >= MAX_MATCHES:
                    return {"query": query, "matches": matches, "truncated": True}
    return {"query": query, "matches": matches, "truncated": False}


SCENARIOS = [
    {
        "name": "files-notes",
        "description": "A few notes and a shopping list",
        "files": {
            "notes/meeting.txt": "Meeting with Dana on Friday at 10:00.\nBring the budget draft.\n",
            "notes/ideas.txt": "Paint the fence blue.\nLearn to bake bread.\n",
            "shopping.txt": "milk\neggs\nbread\ncoffee\n",
        },
    }
]
