"""The application layer: one request object and one runner per action, for every front end.

    generate.py   GenerateRequest -> run_generate      (edgefabric generate)
    train.py      TrainRequest    -> run_train         (edgefabric train)
    evaluate.py   EvalRequest     -> run_eval          (edgefabric eval)
    improve.py    ImproveRequest  -> run_improve       (edgefabric improve; plan -> config, once)
    chat.py       ChatTurnRequest -> run_chat_turn     (one turn of edgefabric chat / the TUI's Chat)
    command.py    how a request's paths are written in its command line

The CLI, the TUI and `edgefabric demo` build a request, call its runner with an event
sink and render the typed events (edgefabric.events); none of them wires the stages
itself. A request's `command(cwd)` is the CLI line that runs it, and the CLI parses that
line back to an equal request (tests/app/), so the TUI's "copy command" is what it runs.

Layering: front ends (tui, cli) -> app -> pipeline / export -> runtime -> edgefabric's
ground floor (schemas, config, events, layout); import-linter checks it (pyproject.toml).
Heavy libraries are imported inside the runners, never at module level.
"""
