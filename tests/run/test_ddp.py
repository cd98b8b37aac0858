"""Scale-out: 2 DDP processes on CPU train what 1 process trains at the same global batch; mixed precision and
torch.compile where they work for recurrent networks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import REPO_ROOT
from torch._dynamo.utils import counters

from rnnlab.models import RecurrentBackbone
from rnnlab.run.build import build_module
from rnnlab.run.train import train

# 256 training examples in batches of 32, and 128 per evaluation split in one batch: every global batch splits
# into equal halves, so each DDP step averages the same per-example gradients as the one-process step. Only the
# order of the floating-point sums differs (about 1e-7 relative per step).
SMALL_RUN = [
    "task.data.sizes={train:256,val:128,test:128}",
    "task.data.batch_size=32",
    "trainer.min_epochs=3",
    "trainer.max_epochs=3",
    "trainer.deterministic=true",
    "~callbacks.early_stopping",
]
# Those float-order differences grew to 1.2e-7 in the weights and 3e-8 in the losses over the 24 Adam steps
# (docs/scale-out.md); one duplicated, dropped or unequally weighted sample changes them by about 1e-3.
TOLERANCE = 1e-5


def train_cli(trainer: str, log_dir: Path) -> tuple[Path, str]:
    """Run scripts/train.py as a user does (Lightning starts DDP's second rank by re-running it); return the
    only run directory under ``log_dir`` and the console output."""
    env = {**os.environ, "RNNLAB_LOG_DIR": str(log_dir)}
    quiet = ["~callbacks.rich_progress_bar", "+trainer.enable_progress_bar=false"]
    command = [sys.executable, "scripts/train.py", f"trainer={trainer}", "task=flip_stream", *SMALL_RUN, *quiet]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = list(log_dir.glob("flip_stream/*/*/metrics.json"))
    assert len(runs) == 1, runs  # every rank wrote into the one run directory
    return runs[0].parent, result.stdout + result.stderr


def test_two_ddp_processes_train_what_one_process_trains(tmp_path, make_cfg):
    # The one-process reference runs in this process: the same run, without a second interpreter's start-up.
    train(make_cfg("flip_stream", "rnn", "trainer=cpu", *SMALL_RUN))
    one = next(tmp_path.glob("train_*"))
    two, output = train_cli("ddp_cpu", tmp_path / "ddp")

    metrics_one = json.loads((one / "metrics.json").read_text())
    metrics_two = json.loads((two / "metrics.json").read_text())
    assert metrics_one.keys() <= metrics_two.keys()  # the CLI run also has its learning-rate monitor
    for key in ("val/loss", "val/acc", "test/loss", "test/acc", "train/loss"):
        assert metrics_two[key] == pytest.approx(metrics_one[key], abs=TOLERANCE), key
    weights_one = torch.load(one / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    weights_two = torch.load(two / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for name, value in weights_one.items():
        torch.testing.assert_close(weights_two[name], value, atol=TOLERANCE, rtol=0)

    # Rank 0 reports; rank 1 logs to its own file in the same directory and writes no config of its own.
    assert output.count("Run directory:") == 1
    assert (two / "train_ddp_process_1.log").exists() and (two / ".hydra" / "config.yaml").exists()
    assert (two / "checkpoints" / "last.ckpt").exists()


@pytest.mark.parametrize(("model", "impl"), [("rnn", "fused"), ("gru", "fused"), ("lstm", "loop")])
def test_bf16_mixed_precision_trains_on_cpu(make_cfg, model, impl):
    cfg = make_cfg(
        "flip_stream",
        model,
        f"model.impl={impl}",
        "+trainer.precision=bf16-mixed",
        "task.data.sizes={train:128,val:64,test:64}",
        "trainer.min_epochs=1",
        "trainer.max_epochs=1",
    )
    metrics, objects = train(cfg)
    assert objects["trainer"].precision == "bf16-mixed"
    assert 0 < metrics["val/loss"] < 1 and 0 <= metrics["test/acc"] <= 1


def test_compiled_model_keeps_its_checkpoint_names(make_cfg):
    plain = build_module(make_cfg("flip_stream", "lstm"))
    compiled = build_module(make_cfg("flip_stream", "lstm", "model.compile=true"))
    # Compiled in place: checkpoints load into a compiled or a plain model alike.
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert compiled.net._compiled_call_impl is not None


def test_compiling_the_loop_makes_a_graph_per_sequence_length():
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(
        RecurrentBackbone(1, 8, impl="loop"), backend="eager"
    )  # graph capture only: what model.compile=true recompiles
    for length in (5, 6, 7, 6):
        compiled(torch.randn(2, length, 1))
    assert counters["stats"]["unique_graphs"] == 3  # the Python loop over time is unrolled for each new length
    torch._dynamo.reset()
