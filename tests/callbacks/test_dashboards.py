"""TensorBoard's dashboards, read back from the event files of tiny real trainings: scalars (losses, metrics,
learning rate, epoch time, throughput), one HPARAMS session per fit with hp/* filled after the test, text
samples, figures (hidden states, gradient norms, confusion matrix) and, when asked for, the model graph."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers import TASKS, compose_config
from helpers.corpora import pos_overrides
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from rnnlab.callbacks.bit_samples import BitSamples
from rnnlab.callbacks.hparams import TEST, VAL_BEST, flat_hparams
from rnnlab.callbacks.throughput import batch_counts
from rnnlab.data.batches import IGNORE
from rnnlab.run.train import train

# In-process, quiet, but with the run's real loggers and callbacks (tensorboard, lr_monitor, ...).
TB_RUN = [
    "trainer.accelerator=cpu",
    "~callbacks.rich_progress_bar",
    "+trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
    "trainer.min_epochs=1",
]
TINY_TRANSLATE = ["task.data.sizes.train=128", "task.data.sizes.val=32", "task.data.sizes.test=32"]
FLIP = ["task=flip_stream", "model=rnn", "trainer.max_epochs=2", "task.data.sizes.train=256"]


def read_events(run_dir: Path) -> EventAccumulator:
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    events.Reload()
    return events


def hparams_summaries(run_dir: Path) -> list[tuple[str, HParamsPluginData]]:
    """Every hparams summary of the run's event files, in order (the accumulator keeps only the last per tag)."""
    found = []
    for path in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    found.append((value.tag, HParamsPluginData.FromString(value.metadata.plugin_data.content)))
    return found


def run(tmp_path: Path, overrides: list[str]) -> tuple[dict, DictConfig, Path]:
    cfg = compose_config("train", [*TB_RUN, *overrides], tmp_path / "run")
    metrics, _ = train(cfg)
    return metrics, cfg, Path(cfg.paths.output_dir)


def pos_run(folder: Path) -> list[str]:
    return [
        "task=pos",
        "model=rnn",
        "trainer.max_epochs=2",
        *(o for o in pos_overrides(folder) if "max_epochs" not in o),
    ]


CASES = {
    # task: (a validation metric, text tags, image tags)
    "flip_stream": ("acc", {"val/samples"}, {"val/hidden_states", "grad_norm/by_parameter"}),
    "pos": ("acc", {"val/samples", "val/class_scores"}, {"val/hidden_states", "val/confusion"}),
    "char_lm": ("bpc", {"val/samples", "test/samples"}, {"val/hidden_states"}),
}


@pytest.mark.parametrize("task", list(CASES))
def test_a_fit_and_test_fill_every_dashboard(tmp_path, treebank, task):
    overrides = {"flip_stream": FLIP, "pos": pos_run(treebank), "char_lm": ["task=char_lm", "trainer.max_epochs=2"]}
    metrics, cfg, run_dir = run(tmp_path, overrides[task])
    events, (metric, texts, images) = read_events(run_dir), CASES[task]

    scalars = set(events.Tags()["scalars"])
    wanted = {"train/loss", f"val/{metric}", "lr-Adam", VAL_BEST, TEST}
    speed = {"train/epoch_time_s", "train/sequences_per_s", "train/tokens_per_s"}
    assert wanted | speed <= scalars
    for tag in speed:
        assert all(event.value > 0 for event in events.Scalars(tag))

    # One session, declared at fit start with both metrics; the test after the fit adds no second one.
    summaries = hparams_summaries(run_dir)
    assert [tag for tag, _ in summaries].count("_hparams_/session_start_info") == 1
    experiment = next(data.experiment for tag, data in summaries if tag == "_hparams_/experiment")
    assert {info.name.tag for info in experiment.metric_infos} == {VAL_BEST, TEST}
    session = next(data.session_start_info for tag, data in summaries if tag == "_hparams_/session_start_info")
    assert session.hparams["task"].string_value == task
    assert set(session.hparams) == {info.name for info in experiment.hparam_infos}

    # hp/val_best: the best validation value of task.monitor; hp/test: the monitored metric on the test split.
    monitor = cfg.task.monitor
    validations = [event.value for event in events.Scalars(monitor)]
    best = max(validations) if cfg.task.monitor_mode == "max" else min(validations)
    assert events.Scalars(VAL_BEST)[-1].value == pytest.approx(best)
    test_name = "test/" + monitor.split("/", 1)[1]
    assert events.Scalars(TEST)[-1].value == pytest.approx(
        json.loads((run_dir / "metrics.json").read_text())[test_name]
    )
    assert test_name in metrics

    assert {f"{tag}/text_summary" for tag in texts} <= set(events.Tags()["tensors"])
    assert images <= set(events.Tags()["images"])
    assert not events.Tags()["graph"]  # off unless logger.tensorboard.log_graph=true


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(["task=flip_stream", "model=lstm", "trainer.max_epochs=1", "task.data.sizes.train=64"], id="bits"),
        pytest.param(["task=char_lm", "trainer.max_epochs=1"], id="char_lm"),
        pytest.param(["task=translate", "model=gru", "trainer.max_epochs=1", *TINY_TRANSLATE], id="translate"),
    ],
)
def test_the_model_graph_is_logged_on_request(tmp_path, overrides):
    _, _, run_dir = run(tmp_path, [*overrides, "logger.tensorboard.log_graph=true"])
    assert read_events(run_dir).Tags()["graph"]


def test_every_task_gives_the_same_hparams_keys(tmp_path):
    keys = set()
    for task in TASKS:
        cfg = compose_config("train", [f"task={task}"], tmp_path)
        config = {key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("task", "model", "optimizer")}
        values = flat_hparams({**config, "seed": cfg.seed}, cfg.task.monitor)
        assert all(isinstance(value, (str, int, float, bool)) for value in values.values()), (task, values)
        keys.add(tuple(values))
    assert len(keys) == 1


def test_throughput_counts_valid_steps_from_shapes_and_masks():
    x = torch.zeros(3, 7, 2)
    assert batch_counts({"input": x, "target": torch.zeros(3, 7)}) == (3, 21)
    sequences, tokens = batch_counts({"input": x, "lengths": torch.tensor([7, 2, 4])})
    assert (sequences, int(tokens)) == (3, 13)
    target = torch.tensor([[1, 2, IGNORE], [3, IGNORE, IGNORE]])
    sequences, tokens = batch_counts(
        {"source": torch.zeros(2, 5), "source_lengths": torch.tensor([5, 3]), "target": target}
    )
    assert (sequences, int(tokens)) == (2, 3 + 8)
    # A step's group of batches counts all of them.
    sequences, tokens = batch_counts([{"input": x, "lengths": torch.tensor([7, 2, 4])}, {"input": x[:1]}])
    assert (sequences, int(tokens)) == (4, 13 + 7)


def test_bit_samples_show_inputs_targets_and_predictions_with_padding_dotted():
    batch = {
        "input": torch.tensor([[[1.0, 0, 1, -1, -1]], [[0.0, 1, 1, 0, 1]]]),
        "target": torch.tensor([[0, 1, 0, -1, -1], [1, 0, 0, 1, 0]]),
        "mask": torch.tensor([[True, True, True, False, False], [True] * 5]),
    }

    class Flip(torch.nn.Module):  # answers 0 1 0 0 0 whatever the input
        def forward(self, x, lengths=None):
            return torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 0, 0]), 2).float().expand(len(x), 5, 2)

    module = L.LightningModule()
    module.net = Flip()
    assert BitSamples.lines(module, batch) == [
        "`101··` → target `010··`, predicted `010··` ✓",
        "`01101` → target `10010`, predicted `01000` ✗",
    ]
