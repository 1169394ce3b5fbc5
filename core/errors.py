"""Errors meant for a person: each names the problem and the fix."""

from __future__ import annotations


class EdgeFabricError(Exception):
    """A failure the user can act on; the CLI prints it without a traceback."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.problem}\n  fix: {self.fix}" if self.fix else self.problem


class ConfigError(EdgeFabricError):
    """A project config that does not validate; `problems` holds one line per bad field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listed = "\n".join(f"  - {line}" for line in problems)
        super().__init__(
            f"{source}: {len(problems)} problem(s) in the config\n{listed}",
            "edit the fields named above; `edgefabric config init` writes a valid example",
        )


class ModelUnavailableError(EdgeFabricError):
    """A model that cannot be found locally and may not be downloaded."""


class ContextOverflowError(EdgeFabricError):
    """A prompt longer than the model's context: the caller's input is too long, not a model failure."""
