"""The threads setting: what auto chooses and why, that a run applies it, and that it is logged and recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from helpers import compose_config, register_run

from rnnlab import machine
from rnnlab.callbacks.thread_share import ThreadShare
from rnnlab.errors import ConfigError
from rnnlab.machine import RunRegistry
from rnnlab.run import threads as threads_module
from rnnlab.run.threads import SMALL_WORK, recurrent_work, resolve_threads
from rnnlab.run.train import train

POS = ["task=pos", "model=bilstm"]


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "cores", lambda: 2)


@pytest.mark.parametrize(
    ("overrides", "jobs", "expected"),
    [
        pytest.param([], 1, (1, "auto: a small recurrent model gains < 10 % from a second thread", True), id="small"),
        pytest.param(POS, 1, (2, "auto: 2 core(s)", True), id="large"),
        pytest.param(POS, 2, (1, "auto: 2 core(s) / 2 parallel jobs", True), id="large-in-sweep"),
        pytest.param(["threads=3"], 1, (3, "threads", False), id="explicit"),
    ],
)
def test_auto_gives_small_models_one_thread_and_large_ones_their_share(
    two_cores, monkeypatch, overrides, jobs, expected
):
    monkeypatch.setattr(threads_module, "parallel_jobs", lambda: jobs)
    assert resolve_threads(compose_config("train", overrides)) == expected


def test_the_work_estimate_puts_the_default_bit_task_below_and_the_pos_recipe_above_the_line():
    assert recurrent_work(compose_config("train")) < SMALL_WORK
    # POS recipe: 32 sentences × 200 units × 4·200 gate rows × 2 layers × 2 directions.
    assert recurrent_work(compose_config("train", ["task=pos", "model=bilstm"])) == 32 * 200 * 800 * 2 * 2


def test_omp_num_threads_wins_over_auto(two_cores, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resolve_threads(compose_config("train", POS)) == (1, "auto: OMP_NUM_THREADS", False)


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_thread_count_is_one_line(value):
    with pytest.raises(ConfigError, match=f"threads={value!r}|threads={value}"):
        resolve_threads(compose_config("train", [f"threads={value}"]))


def test_a_run_applies_logs_and_records_its_threads(make_cfg, caplog):
    cfg = make_cfg("flip_stream", "rnn", "threads=2", "trainer.max_epochs=1", "trainer.min_epochs=1", "test=false")
    with caplog.at_level("INFO", logger="rnnlab"):
        train(cfg)
    assert torch.get_num_threads() == 2
    assert "Threads: 2 (threads)" in caplog.messages
    assert json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())["threads"] == 2


class _Trainer:
    """What ThreadShare reads of a trainer."""

    loggers: tuple = ()
    global_step = 0


@pytest.fixture
def machine_of_two_cores(monkeypatch, tmp_path):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("RNNLAB_RUN_REGISTRY", str(tmp_path / "runs"))
    monkeypatch.setattr(machine, "cores", lambda: 2)
    monkeypatch.setattr(threads_module, "cores", lambda: 2)
    return tmp_path / "runs"


def test_an_auto_run_gives_up_a_core_while_another_run_trains_and_takes_it_back(
    machine_of_two_cores, other_process, caplog
):
    torch.set_num_threads(2)
    callback, trainer = ThreadShare(2, every_s=0), _Trainer()
    callback.setup(trainer, None, "fit")
    assert (machine_of_two_cores / str(os.getpid())).exists()
    with caplog.at_level("INFO", logger="rnnlab"):
        callback.on_train_batch_start(trainer, None, None, 0)
        assert torch.get_num_threads() == 2
        register_run(machine_of_two_cores, other_process.pid)
        callback.on_train_batch_start(trainer, None, None, 1)
        assert torch.get_num_threads() == 1
        other_process.kill()
        other_process.wait()
        callback.on_validation_batch_start(trainer, None, None, 0)
        assert torch.get_num_threads() == 2
    assert caplog.messages == [
        "Threads: 1 (was 2; 1 other rnnlab run(s) on this machine)",
        "Threads: 2 (was 1; no other rnnlab run on this machine)",
    ]
    assert callback.fewest == 1
    callback.teardown(trainer, None, "fit")
    assert not (machine_of_two_cores / str(os.getpid())).exists()


def test_a_run_with_a_set_thread_count_registers_but_keeps_its_count(machine_of_two_cores, other_process):
    torch.set_num_threads(2)
    callback, trainer = ThreadShare(2, shares=False, every_s=0), _Trainer()
    callback.setup(trainer, None, "fit")
    register_run(machine_of_two_cores, other_process.pid)
    callback.on_train_batch_start(trainer, None, None, 0)
    assert torch.get_num_threads() == 2
    assert RunRegistry().others() == 1  # seen from the other run's side: this one counts


def test_a_run_started_beside_another_says_it_shares_and_records_it(
    machine_of_two_cores, other_process, make_cfg, caplog, monkeypatch
):
    monkeypatch.setattr(threads_module, "SMALL_WORK", 0)  # the test's tiny model would get 2 threads alone
    register_run(machine_of_two_cores, other_process.pid)
    cfg = make_cfg("flip_stream", "rnn", "trainer.max_epochs=1", "trainer.min_epochs=1", "test=false")
    with caplog.at_level("INFO", logger="rnnlab"):
        train(cfg)
    assert "Threads: 1 (auto: 2 core(s), shared with 1 other rnnlab run(s))" in caplog.messages
    metrics = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert (metrics["threads"], metrics["threads_fewest"]) == (1, 1)
    assert not (machine_of_two_cores / str(os.getpid())).exists()  # left when training ended
