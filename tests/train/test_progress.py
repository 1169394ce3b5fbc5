"""Progress events: tokens/s and the ETA leave out the first step's one-time costs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgefabric.events import EventLog, Progress
from edgefabric.pipeline.train import progress


def test_rates_and_eta_come_from_the_steps_after_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 110.0, 112.0, 114.0])  # train begins; step 1 took 10 s (warm-up), then 2 s a step
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    log = EventLog()
    callback = progress.make_callback(log)
    state = SimpleNamespace(global_step=0, max_steps=10, epoch=0.0)
    callback.on_train_begin(None, state, None)
    for step, tokens in ((1, 300), (2, 600), (3, 900)):
        state.global_step = step
        callback.on_log(None, state, None, logs={"loss": 1.0, "num_tokens": tokens})
    first, second, third = (e.metrics for e in log.of_type(Progress))
    assert first["tokens_per_s"] == pytest.approx(30.0) and first["eta_s"] == pytest.approx(9 * 10.0)
    assert second["tokens_per_s"] == pytest.approx(150.0) and second["s_per_step"] == pytest.approx(2.0)
    assert third["eta_s"] == pytest.approx(7 * 2.0)  # honest from the second step: 2 s x 7 steps left


def test_a_resumed_run_reports_no_rate_from_the_earlier_runs_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 5.0, 7.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    log = EventLog()
    callback = progress.make_callback(log)
    state = SimpleNamespace(global_step=3, max_steps=6, epoch=0.0)  # resumed from checkpoint-3
    callback.on_train_begin(None, state, None)
    for step, tokens in ((4, 1200), (5, 1500)):
        state.global_step = step
        callback.on_log(None, state, None, logs={"loss": 1.0, "num_tokens": tokens})
    first, second = (e.metrics for e in log.of_type(Progress))
    assert first["tokens_per_s"] == 0.0  # 1200 tokens include steps 1-3 of the first run
    assert second["tokens_per_s"] == pytest.approx(150.0) and second["eta_s"] == pytest.approx(2.0)
