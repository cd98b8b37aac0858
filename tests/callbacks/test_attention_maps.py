"""The attention heat maps in TensorBoard (callbacks/attention_maps.py), read back from the event files of tiny real
translation runs: a figure per validation epoch and one after the test with attention, nothing without."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import compose_config
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnnlab.analysis.attention import AttentionMap, attention_grid
from rnnlab.run.train import train

TB_RUN = [
    "trainer.accelerator=cpu",
    "~callbacks.rich_progress_bar",
    "+trainer.enable_progress_bar=false",
    "+trainer.enable_model_summary=false",
    "task=translate",
    "model.hidden_size=16",
    "trainer.max_epochs=2",
    "trainer.min_epochs=2",
    "task.data.sizes.train=128",
    "task.data.sizes.val=16",
    "task.data.sizes.test=16",
]


def images(run_dir: Path) -> dict[str, int]:
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    return {tag: len(events.Images(tag)) for tag in events.Tags()["images"]}


@pytest.mark.parametrize(("attention", "expected"), [("dot", {"val/attention": 2, "test/attention": 1}), ("none", {})])
def test_tensorboard_shows_heat_maps_each_validation_epoch_only_with_attention(tmp_path, attention, expected):
    cfg = compose_config("train", [*TB_RUN, f"task.decoder.attention={attention}"], tmp_path)
    train(cfg)
    shown = {tag: n for tag, n in images(tmp_path).items() if tag.endswith("/attention")}
    assert shown == expected


def test_a_grid_draws_one_map_per_example_with_its_characters():
    maps = [
        AttentionMap(torch.eye(3)[:2], list("a b"), ["1", "</s>"]),
        AttentionMap(torch.full((3, 4), 0.25), list("abcd"), ["1", "2", "</s>"]),
    ]
    figure = attention_grid(maps, columns=2)
    first, second = figure.axes
    assert [t.get_text() for t in first.get_xticklabels()] == ["a", "␣", "b"]
    assert [t.get_text() for t in second.get_yticklabels()] == ["1", "2", "end"]
    assert first.get_images()[0].get_array().shape == (2, 3)
    with pytest.raises(ValueError, match="at least one map"):
        attention_grid([])
