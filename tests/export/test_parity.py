"""The parity check can say no: correct exports pass, damaged ones fail loudly (issue 16)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from edgefabric.cli import app
from edgefabric.export import run as export_run
from edgefabric.export.divergence import Divergence
from edgefabric.export.gguf import export_gguf
from edgefabric.export.parity import check_parity
from edgefabric.export.source import inspect_source
from edgefabric.export.thresholds import THRESHOLDS, threshold_for
from edgefabric.tui.project import Project, model_choices


def _scaled_copy(source: Path, target: Path) -> Path:
    """A copy of `source` with its (tied) embedding matrix scaled by 3, as a converter bug that mangles one
    tensor would. (Scaling a matrix inside a block does little: Gemma 3 normalises every block's output.)"""
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, target)
    weights = load_file(target / "model.safetensors")
    name = "model.embed_tokens.weight"
    weights[name] = weights[name] * 3.0
    save_file(weights, target / "model.safetensors", metadata={"format": "pt"})
    return target


def _wrong_rope_copy(source: Path, target: Path) -> Path:
    """A copy whose config gives the sliding layers RoPE base 100 instead of 10,000."""
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    config["rope_parameters"]["sliding_attention"]["rope_theta"] = 100.0
    (target / "config.json").write_text(json.dumps(config))
    return target


def test_divergence_figures_on_known_distributions() -> None:
    """Identical logits: top-1 1, KL 0, ratio 1. A shifted distribution: the KL of the two softmaxes."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 7)).astype(np.float32)
    ids = [1, 2, 3, 4, 5]
    same = Divergence()
    same.add(logits, logits.copy(), ids)
    assert same.positions == 4 and same.top1_agreement == 1.0
    assert same.mean_kl == pytest.approx(0.0, abs=1e-7) and same.ppl_ratio == pytest.approx(1.0)

    other = logits.copy()
    other[:, 0] += 2.0
    shifted = Divergence()
    shifted.add(logits, other, ids)
    p = np.exp(logits[:4]) / np.exp(logits[:4]).sum(-1, keepdims=True)
    q = np.exp(other[:4]) / np.exp(other[:4]).sum(-1, keepdims=True)
    expected = (p * (np.log(p) - np.log(q))).sum(-1)
    assert shifted.mean_kl == pytest.approx(float(expected.mean()), rel=1e-4)
    nll_p = -np.log(p[np.arange(4), ids[1:]]).mean()
    nll_q = -np.log(q[np.arange(4), ids[1:]]).mean()
    assert shifted.ppl_ratio == pytest.approx(float(np.exp(nll_q - nll_p)), rel=1e-4)


def test_every_export_type_has_bounds_and_unknown_is_an_error() -> None:
    from edgefabric.config import GGUF_QUANTS, ONNX_PRECISIONS
    from edgefabric.errors import EdgeFabricError

    assert {("gguf", q) for q in GGUF_QUANTS} | {("onnx", p) for p in ONNX_PRECISIONS} == set(THRESHOLDS)
    with pytest.raises(EdgeFabricError, match="no parity threshold is defined for gguf q2_k"):
        threshold_for("gguf", "q2_k")


@pytest.mark.parametrize("damage", [_scaled_copy, _wrong_rope_copy], ids=["scaled-matrix", "wrong-rope-base"])
def test_damaged_export_fails_and_correct_one_passes(tiny_gemma: Path, tmp_path: Path, damage: Any) -> None:
    damaged = inspect_source(damage(tiny_gemma, tmp_path / "damaged"))
    (bad,) = export_gguf(damaged, tmp_path / "bad", ["f16"])
    (good,) = export_gguf(inspect_source(tiny_gemma), tmp_path / "good", ["f16"])
    report = check_parity(tiny_gemma, "functiongemma", gguf=[("f16", good.path), ("f16", bad.path)])
    healthy, broken = report.exports
    assert healthy.passed, healthy.failures
    assert healthy.divergence.top1_agreement > 0.98 and healthy.divergence.mean_kl < 0.005
    assert not broken.passed and not report.passed
    assert any("top-1 agreement" in f or "mean KL" in f for f in broken.failures), broken.failures
    assert broken.divergence.mean_kl > 10 * max(healthy.divergence.mean_kl, 1e-4)


def test_cli_fails_a_damaged_export_keeps_its_files_and_never_preselects_it(
    tiny_gemma: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the converter writes the GGUF of a damaged copy. The CLI exits 1 (0 with
    --allow-degraded), the file is kept as -FAILED, the manifest and card say so, Chat lists it last."""
    damaged = inspect_source(_scaled_copy(tiny_gemma, tmp_path / "damaged"))
    real_export_gguf = export_run.export_gguf

    def converter_bug(source: Any, out: Path, quants: list[str], **kwargs: Any) -> Any:
        return real_export_gguf(damaged, out, quants, **kwargs)

    monkeypatch.setattr(export_run, "export_gguf", converter_bug)
    project = tmp_path / "project"
    (project / "exports").mkdir(parents=True)
    out = project / "exports" / "bundle"
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(tiny_gemma), "--gguf", "f16", "--onnx", "", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "parity FAILED for gguf f16" in result.output and "FAILED (" in result.output
    assert (out / "model-f16-FAILED.gguf").is_file() and not (out / "model-f16.gguf").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    (entry,) = manifest["exports"]
    assert entry["parity"] == "failed" and entry["path"] == "model-f16-FAILED.gguf" and entry["parity_failures"]
    assert manifest["parity"][0]["passed"] is False
    assert "**FAILED**" in (out / "README.md").read_text()
    fit = json.loads((out / "device_fit.json").read_text())  # size, speed and parity side by side
    assert {row["parity"] for row in fit} == {"failed"} and all(row["tokens_per_s"] > 0 for row in fit)
    assert "WARNING: model-f16-FAILED.gguf FAILED its parity check" in (out / "Modelfile").read_text()

    choices = model_choices(Project(project))
    assert choices[0][1].startswith("embedded:"), choices  # never preselected
    assert choices[-1] == ("exports/bundle/model-f16-FAILED.gguf (parity FAILED)", str(out / "model-f16-FAILED.gguf"))

    allowed = runner.invoke(
        app, ["export", str(tiny_gemma), "--gguf", "f16", "--onnx", "", "--out", str(out), "--allow-degraded"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert "parity FAILED for gguf f16" in allowed.output
