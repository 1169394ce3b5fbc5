"""Backend selection and the Unsloth path's errors, without CUDA."""

from __future__ import annotations

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.pipeline.train.backends import (
    TrlBackend,
    UnslothBackend,
    choose_backend,
    cpu_bf16,
    cpu_has_bf16,
    cpu_threads,
    make_backend,
    resolve_backend,
)


@pytest.mark.parametrize(
    ("requested", "cuda", "unsloth", "expected", "reason"),
    [
        ("auto", True, True, "unsloth", "CUDA GPU and unsloth are available"),
        ("auto", True, False, "trl", "unsloth is not installed"),
        ("auto", False, True, "trl", "no CUDA GPU"),
        ("auto", False, False, "trl", "no CUDA GPU"),
        ("trl", True, True, "trl", "training.backend is trl"),
        ("unsloth", True, True, "unsloth", "training.backend is unsloth"),
    ],
)
def test_selection(requested: str, cuda: bool, unsloth: bool, expected: str, reason: str) -> None:
    choice = choose_backend(requested, cuda=cuda, unsloth=unsloth)
    assert choice.name == expected
    assert reason in choice.reason


def test_unsloth_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(EdgeFabricError, match="no CUDA GPU is available") as info:
        choose_backend("unsloth", cuda=False, unsloth=True)
    assert info.value.fix is not None and "auto or trl" in info.value.fix


def test_unsloth_not_installed_names_the_extra() -> None:
    with pytest.raises(EdgeFabricError, match="not installed") as info:
        choose_backend("unsloth", cuda=True, unsloth=False)
    assert "edgefabric[gpu]" in (info.value.fix or "")


def test_this_machine_resolves_to_trl_and_refuses_unsloth() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this check describes a machine without CUDA")
    assert resolve_backend("auto").name == "trl"
    with pytest.raises(EdgeFabricError, match="no CUDA GPU"):
        resolve_backend("unsloth")


def test_make_backend_and_cpu_trainer_args() -> None:
    from edgefabric.pipeline.train.backends import BackendChoice

    assert isinstance(make_backend(BackendChoice("unsloth", "x")), UnslothBackend)
    backend = make_backend(BackendChoice("trl", "x"))
    assert isinstance(backend, TrlBackend)
    if backend.device == "cpu":
        # always explicit: SFTConfig defaults to bf16, which on CPU needs use_cpu
        assert backend.trainer_args() == {"use_cpu": True, "bf16": cpu_has_bf16(), "fp16": False}
        fp32 = make_backend(BackendChoice("trl", "x"), "fp32")
        assert fp32.trainer_args() == {"use_cpu": True, "bf16": False, "fp16": False}


def test_cpu_precision_rule() -> None:
    assert cpu_bf16("auto", has_bf16=True) and not cpu_bf16("auto", has_bf16=False)
    assert not cpu_bf16("fp32", has_bf16=True)
    assert cpu_bf16("bf16", has_bf16=True)
    with pytest.raises(EdgeFabricError, match="no AVX512-BF16") as info:
        cpu_bf16("bf16", has_bf16=False)
    assert "fp32" in (info.value.fix or "")


def test_unsloth_backend_reports_a_failed_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_unsloth(name: str, *args: object, **kwargs: object) -> object:
        if name == "unsloth":
            raise ImportError("No module named 'unsloth'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_unsloth)
    with pytest.raises(EdgeFabricError, match="unsloth could not be imported") as info:
        UnslothBackend().load(__import__("pathlib").Path("."), 128)
    assert "edgefabric[gpu]" in (info.value.fix or "")


def test_cpu_threads_leave_busy_cores_alone() -> None:
    assert cpu_threads(None, cores=2, load=0.2) == (2, "2 core(s), others busy 0.2: 2 free")
    assert cpu_threads(None, cores=2, load=1.0)[0] == 1
    assert cpu_threads(None, cores=2, load=5.0)[0] == 1  # never 0
    assert cpu_threads(None, cores=16, load=3.4)[0] == 13
    assert cpu_threads(3, cores=2, load=9.0) == (3, "training.threads")


def test_threads_override_reaches_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--threads` / EDGEFABRIC_THREADS (one thread policy for every stage) sets torch's threads too;
    training.threads in the config still wins over it."""
    import torch

    from edgefabric.events import Event, Note
    from edgefabric.pipeline.train.run import _set_threads

    class CpuBackend:
        device = "cpu"

    notes: list[Event] = []
    before = torch.get_num_threads()
    monkeypatch.setenv("EDGEFABRIC_THREADS", "1")
    try:
        assert _set_threads(CpuBackend(), None, notes.append)[1] == 1
        assert _set_threads(CpuBackend(), 2, notes.append)[1] == 2
    finally:
        torch.set_num_threads(before)
    texts = [n.text for n in notes if isinstance(n, Note)]
    assert texts == ["1 torch thread(s) (--threads / EDGEFABRIC_THREADS)", "2 torch thread(s) (training.threads)"]
