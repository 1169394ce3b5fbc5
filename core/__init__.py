"""EdgeFabric: make small, private, offline tool-calling models.

The root package holds what every stage shares: the data model (`schemas`),
the project config (`config`), user-facing errors, paths and progress events.
The stages live in `edgefabric.pipeline`, `edgefabric.export`,
`edgefabric.runtime`, and the Textual app in `edgefabric.tui`.
"""

__version__ = "0.1.0"
