"""Scaling: epoch time and memory against sequence length T and hidden size H.

rnnlab trains bit problem 3 (flip_stream) with T-bit sequences, a fixed number of sequences per epoch, so an
epoch holds N · T steps of work. Time should grow linearly in T (BPTT visits each step once forward and once
backward); the fitted exponent of time against T, per H, says whether it does. Memory is what backpropagation
keeps: the bytes of every tensor autograd saves during one training forward pass (on a GPU, also the peak
allocated memory of a step).
"""

from __future__ import annotations

import math
import statistics

import torch
import torch.nn.functional as F

from rnnlab.bench.harness import Result, comparison
from rnnlab.bench.overhead import bits_config, timed_train
from rnnlab.run.build import build_net

GOAL = 1.1  # time ∝ T^k with k at most this


def saved_bytes(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes autograd saves for the backward pass of one forward (what BPTT must keep in memory)."""
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        logits = net(x)
        F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
    return total


def exponent(xs: list[float], ys: list[float]) -> float:
    """The least-squares slope of log y against log x."""
    lx, ly = [math.log(v) for v in xs], [math.log(v) for v in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def run(
    lengths=(10, 100, 1000),
    hidden_sizes=(32, 128, 512),
    sequences: int = 256,
    batch: int = 32,
    repeats: int = 3,
    device: str = "cpu",
):
    results, comparisons = [], []
    for hidden in hidden_sizes:
        medians = []
        for length in lengths:
            cfg = bits_config(batch, sequences, 1 + repeats, hidden, seq_len=length, device=device)
            seconds, objects = timed_train(cfg)
            data = objects["datamodule"].split("train")
            net = build_net(cfg.model, cfg.task)
            memory = saved_bytes(net, data["input"][:batch], data["target"][:batch]) / 2**20
            case = f"H={hidden} T={length}"
            results.append(
                Result("scaling", case, "rnnlab", "s per epoch", seconds[1:], {"saved_for_backward_mib": memory})
            )
            results.append(Result("scaling", case, "rnnlab", "MiB saved for backward per batch", [memory]))
            medians.append(statistics.median(seconds[1:]))
        k = exponent(list(lengths), medians)
        case = f"H={hidden}, T={'/'.join(map(str, lengths))}"
        comparisons.append(comparison("scaling", case, "exponent of epoch time in T", k, at_most=GOAL))
    return results, comparisons
