"""The name of a multirun job's TensorBoard run: its overrides, less those every job of the sweep shares."""

from __future__ import annotations

import pytest
from helpers import compose_config
from omegaconf import OmegaConf

from rnnlab.run.job_label import MAX_LENGTH, job_label, label_of, safe_name, shared_overrides


def write_record(sweep_dir, overrides: list[str]) -> None:
    OmegaConf.save(OmegaConf.create({"hydra": {"overrides": {"task": overrides}}}), sweep_dir / "multirun.yaml")


@pytest.mark.parametrize(
    ("sweep", "job", "label"),
    [
        (
            ["model=rnn,gru", "seed=1,2", "trainer.max_epochs=6"],
            ["model=gru", "seed=2", "trainer.max_epochs=6"],
            "model=gru,seed=2",
        ),
        (["seed=1,2", "model=lstm"], ["seed=1", "model=lstm"], "seed=1"),
        # An Optuna trial: its sampled values are not on the sweep's command line.
        (
            ["hparams_search=flip_stream_optuna"],
            ["hparams_search=flip_stream_optuna", "optimizer.lr=0.003"],
            "optimizer.lr=0.003",
        ),
        (["task.gap=range(10,30,10)"], ["task.gap=20"], "task.gap=20"),
        # A deletion reaches the jobs as ~key=null.
        (["~callbacks.rich_progress_bar", "seed=1,2"], ["~callbacks.rich_progress_bar=null", "seed=2"], "seed=2"),
    ],
)
def test_a_job_is_named_by_the_overrides_it_does_not_share(tmp_path, sweep, job, label):
    write_record(tmp_path, sweep)
    assert label_of(job, shared_overrides(tmp_path)) == label


def test_without_the_sweeps_record_every_override_names_the_job(tmp_path):
    assert shared_overrides(tmp_path) == set()
    assert label_of(["seed=1", "model=rnn"], set()) == "model=rnn,seed=1"


def test_a_label_is_one_directory_name_of_bounded_length():
    assert safe_name("task.data.path=/data/text.txt") == "task.data.path=_data_text.txt"
    long_a, long_b = "x=" + "a" * 200, "x=" + "a" * 199 + "b"
    assert len(safe_name(long_a)) == MAX_LENGTH
    assert safe_name(long_a) != safe_name(long_b)


def test_a_single_run_keeps_its_tensorboard_directory():
    # Outside a multirun (and outside Hydra, as here) the version is empty: events directly in tensorboard/.
    assert job_label() == ""
    assert compose_config("train").logger.tensorboard.version == ""
