"""EdgeFabric: make small, private, offline tool-calling models.

The root package (the ground floor, folder core/) holds what every layer shares: the data
model (`schemas`), the project config (`config`) and layout (`layout`), dataset files,
user-facing errors, paths and typed events (`events`, `event_log`). The stages live in
`edgefabric.pipeline`, `edgefabric.export` and `edgefabric.runtime`; the application layer
(one request and runner per action) in `edgefabric.app`; the front ends are the CLI
(`edgefabric.cli`, folder cli/) and the Textual app (`edgefabric.tui`).
"""

__version__ = "0.1.0"
