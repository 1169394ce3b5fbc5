"""A safetensors file written a part of a tensor at a time, and tensors read a row range at a time.

safetensors' `save_file` writes from a dict, so every tensor of the file must be in
memory at once (1.07 GB for a float32 Gemma 3 270M, which was the peak of a run's
merge step). The format lets the header come first, since it needs only names,
dtypes and shapes, and the bytes follow in the order of their offsets. That is all
this writer does; reading goes through safetensors' own `safe_open`.

Format (https://github.com/huggingface/safetensors#format): an 8-byte little-endian
header length N, N bytes of JSON (padded with spaces so the data starts 8-aligned)
mapping each name to `{"dtype", "shape", "data_offsets": [begin, end]}` plus
`"__metadata__"`, then the data, where each tensor's bytes sit at [begin, end)
counted from the data start, back to back in header order.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

# safetensors' dtype codes for the torch dtypes a model folder holds (its `_TYPES` table, which is private).
DTYPE_CODES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}


@dataclass(frozen=True)
class TensorSpec:
    """One tensor of a file to write: `dtype` a torch dtype name (e.g. "float32"), `shape` its sizes."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    itemsize: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.itemsize


def spec_of(name: str, dtype: Any, shape: tuple[int, ...]) -> TensorSpec:
    """The spec of a tensor named `name` with torch `dtype` and `shape`. Raises ValueError for a dtype
    safetensors has no code for."""
    dtype_name = str(dtype).removeprefix("torch.")
    if dtype_name not in DTYPE_CODES:
        raise ValueError(f"{name}: dtype {dtype_name} has no safetensors code")
    return TensorSpec(name, dtype_name, tuple(int(s) for s in shape), int(dtype.itemsize))


class StreamingSafetensorsWriter:
    """Writes `specs` to `path` in their order; `write(name, part)` appends the next rows of a tensor.

    Use as a context manager. `write` raises ValueError when a part is not the next
    expected (another tensor, another dtype or trailing shape, or more rows than the
    tensor has left); leaving the context without an exception raises ValueError if
    a tensor is incomplete. Parts are written from the tensors' own memory (no copy).
    """

    def __init__(self, path: Path, specs: list[TensorSpec], metadata: dict[str, str] | None = None) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError("tensor names repeat")
        self.path = path
        self.specs = specs
        self.metadata = metadata or {}
        self._handle: IO[bytes] | None = None
        self._index = 0  # the tensor being written
        self._done = 0  # its bytes written so far

    def _header(self) -> bytes:
        header: dict[str, Any] = {"__metadata__": self.metadata} if self.metadata else {}
        offset = 0
        for spec in self.specs:
            header[spec.name] = {
                "dtype": DTYPE_CODES[spec.dtype],
                "shape": list(spec.shape),
                "data_offsets": [offset, offset + spec.nbytes],
            }
            offset += spec.nbytes
        text = json.dumps(header, separators=(",", ":")).encode("utf-8")
        return text + b" " * (-len(text) % 8)

    def __enter__(self) -> StreamingSafetensorsWriter:
        header = self._header()
        self._handle = self.path.open("wb")
        self._handle.write(len(header).to_bytes(8, "little"))
        self._handle.write(header)
        self._skip_empty()
        return self

    def _skip_empty(self) -> None:
        while self._index < len(self.specs) and self.specs[self._index].nbytes == 0:
            self._index += 1

    def write(self, name: str, part: Any) -> None:
        """Append `part` (a torch tensor: some leading rows, or all, of tensor `name`)."""
        if self._handle is None:
            raise ValueError("write() outside the writer's context")
        if self._index >= len(self.specs):
            raise ValueError(f"{name}: every tensor is already written")
        spec = self.specs[self._index]
        dtype = str(part.dtype).removeprefix("torch.")
        if name != spec.name or dtype != spec.dtype or tuple(part.shape[1:]) != spec.shape[1:]:
            raise ValueError(
                f"expected rows of {spec.name} ({spec.dtype}, rows of shape {list(spec.shape[1:])}), "
                f"got {name} ({dtype}, {list(part.shape)})"
            )
        data = part.detach().contiguous().reshape(-1).view(dtype=_uint8()).numpy()
        if self._done + data.nbytes > spec.nbytes:
            raise ValueError(f"{name}: more rows than its shape {list(spec.shape)} holds")
        self._handle.write(memoryview(data))
        self._done += data.nbytes
        if self._done == spec.nbytes:
            self._index, self._done = self._index + 1, 0
            self._skip_empty()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._handle is not None
        self._handle.close()
        if kind is None and self._index < len(self.specs):
            raise ValueError(f"{self.path}: {self.specs[self._index].name} and later tensors were not written")


def _uint8() -> Any:
    import torch

    return torch.uint8


def read_rows(path: Path, name: str, start: int | None = None, stop: int | None = None) -> Any:
    """Rows [start, stop) of tensor `name` in the safetensors file `path` (all rows when both are None),
    as a torch tensor of its own.

    The file is opened for this read only: safetensors maps it, and mapped pages count
    in the process's RSS until the map closes, so a handle kept open over every tensor
    would end with the whole file in RSS. (Its `pread` backend maps nothing but reads
    the whole tensor for a slice: +731 MB peak on the 270M's embedding, against +132 MB.)
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        if start is None and stop is None:
            return handle.get_tensor(name)
        return handle.get_slice(name)[start:stop]


def read_specs(path: Path) -> dict[str, TensorSpec]:
    """Name -> spec of every tensor in the safetensors file `path` (the header only)."""
    import torch
    from safetensors import safe_open

    codes = {code: getattr(torch, name) for name, code in DTYPE_CODES.items()}
    specs: dict[str, TensorSpec] = {}
    with safe_open(str(path), framework="pt") as handle:
        for name in handle.keys():
            part = handle.get_slice(name)
            specs[name] = spec_of(name, codes[part.get_dtype()], tuple(part.get_shape()))
    return specs
