"""The performance suite runs end to end (on toy sizes: CI proves it works, it measures nothing)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import REPO_ROOT

from rnnlab.bench.harness import comparison
from rnnlab.bench.profile_step import LOOP_PARTS, PARTS, RNNLAB_PARTS, split, split_report
from rnnlab.bench.scaling import exponent


def test_the_suite_runs_every_benchmark_and_writes_its_report(tmp_path):
    result = subprocess.run(
        [sys.executable, "scripts/bench.py", "--tiny", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "bench.json").read_text())
    assert {r["benchmark"] for r in report["results"]} == {
        "overhead",
        "cold_start",
        "implementations",
        "efficiency",
        "scaling",
        "threads",
        "concurrency",
    }
    assert all(r["values"] and r["min"] <= r["median"] <= r["max"] for r in report["results"])
    table = (tmp_path / "bench.md").read_text()
    assert report["command"] in table
    for row in report["comparisons"]:
        assert f"| {row['benchmark']} | {row['case']} | {row['ratio']} |" in table
    # The loop and the fused kernel compute the same function.
    (loop,) = [r for r in report["results"] if r["benchmark"] == "implementations" and r["variant"] == "loop"]
    assert loop["extra"]["max_abs_diff_vs_fused"] < 1e-5


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_the_fitted_exponent_recovers_a_power_law(power):
    lengths = [10, 100, 1000]
    assert exponent(lengths, [3e-4 * t**power for t in lengths]) == pytest.approx(power)


@pytest.mark.parametrize(
    ("bounds", "goal", "met"),
    [
        ({"at_least": 0.9}, "≥ 0.9", False),
        ({"at_least": 0.8}, "≥ 0.8", True),
        ({"at_most": 7, "unit": " s"}, "≤ 7 s", True),
        ({"goal": "< 1.10 where auto picks 1", "met": False}, "< 1.10 where auto picks 1", False),
        ({}, None, None),
    ],
)
def test_a_comparison_states_its_goal_and_whether_the_value_met_it(bounds, goal, met):
    row = comparison("overhead", "B=32", "rnnlab / plain", 0.86, **bounds)
    assert row == {
        "benchmark": "overhead",
        "case": "B=32",
        "ratio": "rnnlab / plain",
        "value": 0.86,
        "goal": goal,
        "met": met,
    }


def test_the_epoch_split_adds_up_to_the_epoch_and_sees_every_part():
    # 64 batches of 32: two Lightning steps an epoch (32 batches each), so there is a stretch between steps.
    medians = split(batch_size=32, sequences=2048, epochs=3)
    for side, parts in (("rnnlab", RNNLAB_PARTS), ("loop", LOOP_PARTS)):
        times = medians[side]
        assert set(times) == {*parts, "epoch"}
        assert all(times[part] > 0 for part in parts), times
        assert sum(times[part] for part in parts) == pytest.approx(times["epoch"], rel=0.05)
        assert times["optimize"] > times["forward"]  # a backward pass and an Adam step cost more than the forward
    table = split_report(medians)
    assert table.count("\n") == 2 + len(PARTS) and "| **the epoch** |" in table
    assert table.count("| — |") == len(PARTS) - len(set(RNNLAB_PARTS) & set(LOOP_PARTS))
