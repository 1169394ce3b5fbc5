"""The Export screen reads finished bundles through the exporter's one reader (export.bundle): each export
of a manifest in the table, the newest bundle's parity and device fit; a bundle still being written (no
manifest) or a damaged manifest is left out, and the screen stays usable."""

from __future__ import annotations

import json
import os
from pathlib import Path

from textual.widgets import DataTable, Static

from edgefabric.export.bundle import DEVICE_FIT_FILE, MANIFEST_FILE, PARITY_FILE
from tests.tui.conftest import make_app

EXPORT = {"path": "model-q8_0.gguf", "format": "gguf", "quant": "q8_0", "weights_bytes": 3 * 2**20, "seconds": 4.7}
PARITY = {
    "passed": True,
    "summary": [
        {
            "target": "gguf q8_0",
            "passed": True,
            "top1_agreement": 0.997,
            "mean_kl": 0.0001,
            "ppl_ratio": 1.0,
            "tool_call_agreement": 1.0,
        }
    ],
}
FIT = [
    {
        "format": "gguf",
        "quant": "q8_0",
        "parity": "passed",
        "tokens_per_s": 90.0,
        "context": 2048,
        "ram_mb": 310,
        "fits": {"phone": True},
    }
]


async def test_finished_bundles_are_listed_and_the_newest_ones_reports_shown(project_dir: Path) -> None:
    app = make_app(project_dir)
    exports = project_dir / "exports"
    done = exports / "done"
    done.mkdir(parents=True)
    (done / PARITY_FILE).write_text(json.dumps(PARITY))
    (done / DEVICE_FIT_FILE).write_text(json.dumps(FIT))
    (done / MANIFEST_FILE).write_text(json.dumps({"exports": [EXPORT]}))
    (exports / "writing").mkdir()  # a bundle still being written: no manifest yet
    damaged = exports / "damaged"
    damaged.mkdir()
    (damaged / MANIFEST_FILE).write_text('{"exports": [')
    os.utime(damaged / MANIFEST_FILE, (1, 1))  # the older one: `done` is the newest bundle
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        table = app.screen.query_one("#artifacts", DataTable)
        assert table.row_count == 1
        assert [str(cell) for cell in table.get_row_at(0)][:3] == ["done", "model-q8_0.gguf", "gguf q8_0"]
        parity = str(app.screen.query_one("#parity", Static).render())
        assert "passed" in parity and "gguf q8_0: top-1 99.7%" in parity
        assert app.screen.query_one("#device-fit", DataTable).row_count == 1
