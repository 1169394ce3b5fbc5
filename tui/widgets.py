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
    """The journey's steps, the current one highlighted; each is a link to its screen.

    `show_running` adds the stages running anywhere in the app, so no screen looks idle while
    another one works (issue 15).
    """

    def __init__(self, current: str) -> None:
        parts = []
        for mode, key, title in SCREENS:
            label = f" {key} {title} "
            if mode == current:
                parts.append(f"[reverse b]{label}[/]")
            else:
                parts.append(f"[@click=app.switch_mode('{mode}')]{label}[/]")
        self.steps = "".join(parts)
        self.running: tuple[str, ...] = ()
        super().__init__(self.steps, classes="nav-bar", markup=True)

    def show_running(self, titles: list[str]) -> None:
        """Name the stages that run now (titles as on the nav bar), or nothing when none runs."""
        if tuple(titles) == self.running:
            return
        self.running = tuple(titles)
        suffix = f"  [b $warning]● {escape(', '.join(titles))} running[/]" if titles else ""
        self.update(self.steps + suffix)


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
