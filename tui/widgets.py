"""Small widgets every stage screen shares."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

SCREENS = (
    ("project", "1", "Project"),
    ("generate", "2", "Generate"),
    ("train", "3", "Train"),
    ("export", "4", "Export"),
    ("chat", "5", "Chat"),
    ("evaluate", "6", "Evaluate"),
)


class NavBar(Static):
    """The journey's steps, the current one highlighted; each is a link to its screen."""

    def __init__(self, current: str) -> None:
        parts = []
        for mode, key, title in SCREENS:
            label = f" {key} {title} "
            if mode == current:
                parts.append(f"[reverse b]{label}[/]")
            else:
                parts.append(f"[@click=app.switch_mode('{mode}')]{label}[/]")
        super().__init__("".join(parts), classes="nav-bar", markup=True)


class JobIndicator(Static):
    """One line on every screen, under the nav bar, while any stage runs anywhere in the app: each job,
    its phase and progress (from the job's typed events), so no screen looks idle while another works
    (issue 15). Hidden while nothing runs."""

    DEFAULT_CSS = """
    JobIndicator { display: none; height: 1; padding: 0 1; background: $warning 20%; color: $text; }
    JobIndicator.-running { display: block; }
    """

    def __init__(self) -> None:
        super().__init__("", id="jobs", markup=True)
        self.lines: tuple[str, ...] = ()

    def show_jobs(self, lines: list[str]) -> None:
        """Show one line per running job (Job.describe()), or hide when none runs."""
        if tuple(lines) == self.lines:
            return
        self.lines = tuple(lines)
        self.update("  ".join(f"[b]●[/] {escape(line)}" for line in lines))
        self.set_class(bool(lines), "-running")


class ErrorPanel(Vertical):
    """Shown when a stage fails: the problem, the fix, and details for bugs. Escape hides it."""

    DEFAULT_CSS = """
    ErrorPanel { display: none; height: auto; max-height: 12; border: round $error; padding: 0 1; }
    ErrorPanel.-shown { display: block; }
    ErrorPanel #error-title { color: $error; text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="error-title")
        yield Static(id="error-body")

    def show_error(self, stage: str, problem: str, fix: str | None = None, details: str = "") -> None:
        self.query_one("#error-title", Static).update(f"{stage} failed (press x to hide)")
        body = escape(problem)
        if fix:
            body += f"\n[b]fix:[/] {escape(fix)}"
        if details:
            body += "\n[dim]" + escape("\n".join(details.strip().splitlines()[-6:])) + "[/]"
        self.query_one("#error-body", Static).update(body)
        self.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")


class UnavailablePanel(Static):
    """Replaces a screen's controls when its stage is missing from this build."""

    DEFAULT_CSS = """
    UnavailablePanel { border: round $warning; padding: 1 2; height: auto; }
    """

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(
            f"[b]The {stage} stage is not available in this build.[/]\n\n{escape(reason)}\n\n"
            "Everything else in the app still works; the project folder is untouched.",
            id="unavailable",
        )
