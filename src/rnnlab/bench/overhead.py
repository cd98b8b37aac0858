"""Framework overhead: rnnlab's whole training path against a minimal hand-written PyTorch loop.

Both train the same network (built from the same config) on the same in-memory data with the same batch size
and optimizer. The rnnlab variant is ``rnnlab.run.train.train`` — config → DataModule → LightningModule →
``Trainer.fit`` with the default callbacks, logger and progress bar — and the plain one a loop of
index → forward → cross-entropy → backward → step. A third variant is rnnlab's path with Lightning's own
optimizer step in place of :class:`~rnnlab.lit.plain_step.PlainStep` (what the plain step gains); ``ABLATIONS`` are
rnnlab's path with one piece left out or as it was before, to show what each costs. Each reports the sequences per
second of its training epochs after the first (steady state); validation is not timed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable

import lightning as L
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from torch import Generator, Tensor

from rnnlab.bench.harness import Result, comparison, interleave
from rnnlab.lit.base import RecurrentModule
from rnnlab.run.build import build_net
from rnnlab.run.config import CONFIG_DIR
from rnnlab.run.datamodule import build_datamodule


class EpochTimer(L.Callback):
    """Seconds from each training epoch's start to the end of its last batch (validation excluded)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.last = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seconds.append(self.last - self.start)


def compose_train(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=overrides)


def timed_train(cfg: DictConfig) -> tuple[list[float], dict]:
    """``rnnlab.run.train.train`` on ``cfg`` with its outputs in a temporary directory: the training epochs' seconds
    (see :class:`EpochTimer`) and the objects ``train`` returns."""
    from rnnlab.run.train import train

    cfg = cfg.copy()
    with tempfile.TemporaryDirectory() as out, open_dict(cfg):
        cfg.paths.output_dir = out
        cfg.callbacks.epoch_timer = {"_target_": f"{__name__}.EpochTimer"}
        _, objects = train(cfg)
    (timer,) = (c for c in objects["trainer"].callbacks if isinstance(c, EpochTimer))
    return timer.seconds, objects


def lightning_step_train(cfg: DictConfig) -> tuple[list[float], dict]:
    """:func:`timed_train` with Lightning's own optimizer step (``RecurrentModule.plain_steps`` off)."""
    RecurrentModule.plain_steps = False
    try:
        return timed_train(cfg)
    finally:
        RecurrentModule.plain_steps = True


# rnnlab's path with one piece left out or as it was before, each a configuration a user may choose too.
ABLATIONS = {
    "rnnlab without the non-finite guard": ["~callbacks.nonfinite_guard"],
    "rnnlab writing each gradient norm as it is logged": ["callbacks.nonfinite_guard.write_every_s=0"],
    "rnnlab without the progress bar": ["~callbacks.rich_progress_bar", "+trainer.enable_progress_bar=false"],
    "rnnlab with Lightning's progress bar (redrawn every step)": [
        "callbacks.rich_progress_bar._target_=lightning.pytorch.callbacks.RichProgressBar",
        "~callbacks.rich_progress_bar.redraws_per_second",
    ],
    "rnnlab, 8 batches per Lightning step": ["task.data.batches_per_step=8"],
}


def bits_config(
    batch_size: int, sequences: int, epochs: int, hidden_size: int, seq_len: int = 10, device: str = "cpu", extra=()
):
    """Bit problem 3 (flip_stream) with ``sequences`` training examples of ``seq_len`` bits drawn freely."""
    return compose_train(
        [
            "task=flip_stream",
            "model=rnn",
            f"model.hidden_size={hidden_size}",
            f"task.seq_len={seq_len}",
            f"task.data.batch_size={batch_size}",
            "task.data.disjoint=false",
            f"task.data.sizes.train={sequences}",
            "task.data.sizes.val=256",
            f"trainer.max_epochs={epochs}",
            f"trainer.min_epochs={epochs}",
            "~callbacks.early_stopping",
            "test=false",
            f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
            *extra,
        ]
    )


def plain_setup(cfg, device: str = "cpu") -> tuple[Tensor, Tensor, torch.nn.Module, torch.optim.Optimizer, Generator]:
    """What the hand-written loop trains with: the training inputs and targets, the network, its optimizer, and
    the generator that shuffles each epoch."""
    L.seed_everything(cfg.seed, verbose=False)
    data = build_datamodule(cfg).split("train")
    net = build_net(cfg.model, cfg.task).to(device)
    optimizer = instantiate(cfg.optimizer)(params=net.parameters())
    return data["input"].to(device), data["target"].to(device), net, optimizer, Generator().manual_seed(cfg.seed)


def plain_run(cfg, device: str = "cpu") -> list[float]:
    """Epoch times of a minimal PyTorch loop over the same data, network and optimizer."""
    x_all, y_all, net, optimizer, generator = plain_setup(cfg, device)
    seconds = []
    for _ in range(cfg.trainer.max_epochs):
        start = time.perf_counter()
        for index in torch.randperm(len(x_all), generator=generator).to(device).split(cfg.task.data.batch_size):
            x, y = x_all[index], y_all[index]
            logits = net(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return seconds


def steady_throughput(run: Callable[[], list[float]], sequences: int) -> float:
    """Sequences per second over the epochs after the first (median epoch)."""
    return sequences / statistics.median(run()[1:])


def run(
    batch_sizes=(32, 256),
    sequences: int = 8192,
    epochs: int = 4,
    repeats: int = 5,
    hidden_size: int = 32,
    device: str = "cpu",
    ablations: dict[str, list[str]] = ABLATIONS,
):
    results, comparisons = [], []
    goals = {32: 0.90, 256: 0.95}
    for batch_size in batch_sizes:
        shape = {"batch_size": batch_size, "sequences": sequences, "epochs": epochs, "hidden_size": hidden_size}
        cfg = bits_config(**shape, device=device)
        ablated = {name: bits_config(**shape, device=device, extra=less) for name, less in ablations.items()}
        values = interleave(
            {
                "rnnlab": lambda cfg=cfg: steady_throughput(lambda: timed_train(cfg)[0], sequences),
                "rnnlab, Lightning's step": lambda cfg=cfg: steady_throughput(
                    lambda: lightning_step_train(cfg)[0], sequences
                ),
                **{
                    name: lambda less=less: steady_throughput(lambda: timed_train(less)[0], sequences)
                    for name, less in ablated.items()
                },
                "plain": lambda cfg=cfg: steady_throughput(lambda: plain_run(cfg, device), sequences),
            },
            repeats,
        )
        case = f"B={batch_size} H={hidden_size} T=10"
        for variant, v in values.items():
            results.append(Result("overhead", case, variant, "sequences/s", v))
        median = {variant: statistics.median(v) for variant, v in values.items()}
        gained = median["rnnlab"] / median["rnnlab, Lightning's step"]
        comparisons.append(comparison("overhead", case, "rnnlab / rnnlab with Lightning's step", gained))
        for name in ablated:
            comparisons.append(comparison("overhead", case, f"{name} / plain", median[name] / median["plain"]))
        ratio = median["rnnlab"] / median["plain"]
        comparisons.append(comparison("overhead", case, "rnnlab / plain", ratio, at_least=goals.get(batch_size)))
    return results, comparisons
