"""The resource limits of one sandboxed call and of one session's scratch dir."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SandboxLimits(BaseModel):
    """Defaults fit the built-in tools with a wide margin (a typical call uses well under 1% of each)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fuel: int = Field(default=2_000_000_000, ge=1_000_000, description="wasm instructions per call (CPU budget)")
    timeout_s: float = Field(default=5.0, gt=0, le=600, description="wall-clock limit per call")
    memory_bytes: int = Field(default=256 << 20, ge=64 << 20, description="linear memory per call")
    scratch_bytes: int = Field(default=64 << 20, ge=1 << 20, description="disk a session may use")
    scratch_files: int = Field(default=2_000, ge=10, description="files and folders a session may hold")
    max_argument_bytes: int = Field(default=256 << 10, ge=1 << 10, description="size of one call's JSON arguments")
    max_argument_depth: int = Field(default=32, ge=2, description="nesting depth of one call's arguments")
    max_result_bytes: int = Field(default=1 << 20, ge=1 << 10, description="size of one call's JSON result")
