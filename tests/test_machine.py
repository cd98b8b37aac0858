"""The run registry: which rnnlab runs share the machine, and each one's share of the cores."""

from __future__ import annotations

import os

import pytest
from helpers import register_run

from rnnlab import machine
from rnnlab.machine import RunRegistry, share


def test_a_run_joins_and_leaves_and_does_not_count_itself(tmp_path):
    registry = RunRegistry(tmp_path / "runs")
    assert registry.others() == 0  # no folder yet
    registry.join()
    assert registry.own_file.exists()
    assert registry.others() == 0
    registry.leave()
    assert not registry.own_file.exists()


def test_live_runs_count_and_dead_ones_are_forgotten(tmp_path, other_process):
    registry = RunRegistry(tmp_path)
    register_run(tmp_path, other_process.pid)
    assert registry.others() == 1
    other_process.kill()
    other_process.wait()
    assert registry.others() == 0
    assert not (tmp_path / str(other_process.pid)).exists()


def test_a_reused_process_id_is_not_a_run(tmp_path, other_process):
    # The file says the run started at another time than the live process that now holds its id.
    registry = RunRegistry(tmp_path)
    register_run(tmp_path, other_process.pid, started="1")
    assert registry.others() == 0
    assert not (tmp_path / str(other_process.pid)).exists()


def test_the_folder_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_RUN_REGISTRY", str(tmp_path))
    assert RunRegistry().folder == tmp_path


@pytest.mark.parametrize(
    ("ceiling", "others", "expected"),
    [(2, 0, 2), (2, 1, 1), (1, 0, 1), (4, 1, 2), (2, 5, 1)],
)
def test_a_share_is_the_cores_divided_by_the_runs_within_the_ceiling(monkeypatch, ceiling, others, expected):
    monkeypatch.setattr(machine, "cores", lambda: 4 if ceiling == 4 else 2)
    assert share(ceiling, others) == expected


def test_cores_is_this_process_affinity():
    if hasattr(os, "sched_getaffinity"):
        assert machine.cores() == len(os.sched_getaffinity(0))
    assert machine.cores() >= 1
