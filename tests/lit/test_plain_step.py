"""The plain optimizer step: the same training as Lightning's path, bit for bit, with every hook still called;
Lightning's path wherever its wrappers do something."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers.corpora import pos_overrides

from rnnlab.lit.base import RecurrentModule
from rnnlab.lit.plain_step import PlainStep
from rnnlab.run.train import train

SHORT = ["trainer.max_epochs=2", "trainer.min_epochs=2", "~callbacks.early_stopping", "test=false"]
# One family per way of stepping by hand: a classifier with grouped batches, a tagger with weight averaging and a
# plateau scheduler (its recipe's), the regressor, truncated BPTT.
MANUAL_RUNS = {
    "classifier": ("flip_stream", "rnn", "task.data.sizes.train=256"),
    "tagger": ("pos", "birnn"),
    "regressor": ("adding", "lstm", "task.seq_len=20", "task.data.sizes.train=200", "trainer.max_steps=-1"),
    "truncated BPTT": ("char_lm", "gru", "+trainer.limit_train_batches=6", "+trainer.limit_val_batches=2"),
}


class HookCounter(L.Callback):
    """Counts the step hooks and records which path each optimizer step took."""

    def __init__(self) -> None:
        self.calls = {"on_before_backward": 0, "on_after_backward": 0, "on_before_optimizer_step": 0}
        self.optimizers: set[type] = set()
        self.plain: set[bool] = set()
        self.names: set[str] = set()  # the module's hook name, which its self.log checks

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self.calls["on_before_backward"] += 1

    def on_after_backward(self, trainer, pl_module) -> None:
        self.calls["on_after_backward"] += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.calls["on_before_optimizer_step"] += 1
        self.optimizers.add(type(optimizer))
        self.plain.add(pl_module._plain_step is not None)
        self.names.add(pl_module._current_fx_name)


def counted_run(make_cfg, run: tuple[str, ...], *overrides: str, treebank=None):
    corpus = pos_overrides(treebank) if run[0] == "pos" else []
    cfg = make_cfg(*run, *corpus, *SHORT, f"+callbacks.hook_counter._target_={__name__}.HookCounter", *overrides)
    metrics, objects = train(cfg)
    (counter,) = (c for c in objects["trainer"].callbacks if isinstance(c, HookCounter))
    return metrics, objects, counter


@pytest.mark.parametrize("run", MANUAL_RUNS.values(), ids=MANUAL_RUNS.keys())
def test_the_plain_step_trains_exactly_as_lightnings_path(make_cfg, monkeypatch, treebank, run):
    plain_metrics, plain, plain_hooks = counted_run(make_cfg, run, treebank=treebank)
    monkeypatch.setattr(RecurrentModule, "plain_steps", False)
    metrics, lightning, hooks = counted_run(make_cfg, run, treebank=treebank)

    assert (plain_hooks.plain, hooks.plain) == ({True}, {False})
    steps = lightning["trainer"].global_step
    assert steps > 0 and plain["trainer"].global_step == steps
    # Every hook once per optimizer step on both paths, with the plain torch optimizer.
    assert plain_hooks.calls == hooks.calls == {name: steps for name in hooks.calls}
    assert plain_hooks.optimizers == hooks.optimizers == {torch.optim.Adam}
    assert plain_hooks.names == hooks.names == {"on_before_optimizer_step"}
    assert plain_metrics == metrics
    for (name, a), b in zip(
        plain["module"].state_dict().items(), lightning["module"].state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_mixed_precision_keeps_lightnings_path_and_its_hooks(make_cfg):
    _, objects, hooks = counted_run(make_cfg, MANUAL_RUNS["classifier"], "+trainer.precision=bf16-mixed")
    assert hooks.plain == {False}
    assert hooks.calls["on_before_optimizer_step"] == objects["trainer"].global_step > 0


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"precision": "bf16-mixed"}, id="mixed-precision"),
        pytest.param({"precision": "64-true"}, id="double-precision"),
        pytest.param({"profiler": "simple"}, id="profiler"),
        pytest.param({"strategy": "ddp", "devices": 2}, id="ddp"),
    ],
)
def test_lightnings_path_stays_wherever_its_wrappers_do_something(settings):
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, **settings)
    assert not PlainStep.applies(trainer)


def test_the_plain_step_applies_to_the_default_trainer():
    assert PlainStep.applies(L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False))
