"""The Textual app, `fabric-tui`. It drives the same stage functions as the CLI."""
