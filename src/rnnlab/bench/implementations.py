"""Fused kernel against the explicit loop over time, and the loop with its cell step compiled.

For each shape (batch B, hidden size H, length T; input size = H, as in a stacked layer) every variant runs
forward + backward of a one-layer vanilla RNN on the same weights and input, timed per iteration. The loop is
the implementation that shows per-step states and gradients; the question is what that costs.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable

import torch

from rnnlab.bench.harness import Result, comparison, interleave
from rnnlab.models.backbone import RecurrentBackbone

GOAL = 1.3  # the loop within 1.3× the fused time


def backbones(hidden: int, device: torch.device, compile_step: bool) -> dict[str, RecurrentBackbone]:
    fused = RecurrentBackbone(hidden, hidden, impl="fused").to(device)
    variants = {"fused": fused}
    loop = RecurrentBackbone(hidden, hidden, impl="loop").to(device)
    loop.load_state_dict(fused.state_dict())  # the same weights (translated)
    variants["loop"] = loop
    if compile_step:
        compiled = RecurrentBackbone(hidden, hidden, impl="loop").to(device)
        compiled.load_state_dict(fused.state_dict())
        cell = compiled.layers[0][0]
        cell.step = torch.compile(cell.step, dynamic=False)
        variants["loop+compile"] = compiled
    return variants


def timer(backbone: RecurrentBackbone, x: torch.Tensor, min_seconds: float) -> Callable[[], float]:
    """A measurement: milliseconds per forward + backward, over enough iterations to last ``min_seconds``."""

    def once() -> None:
        out, _ = backbone(x)
        out.sum().backward()

    def sync() -> None:
        if x.is_cuda:
            torch.cuda.synchronize()

    once()  # warm-up (and compilation)
    sync()
    start = time.perf_counter()
    once()
    sync()
    iterations = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-6)))

    def measure() -> float:
        sync()
        start = time.perf_counter()
        for _ in range(iterations):
            once()
        sync()
        return (time.perf_counter() - start) / iterations * 1000

    return measure


def run(
    batch_sizes=(1, 32, 256),
    hidden_sizes=(32, 128, 512),
    lengths=(10, 100),
    repeats: int = 5,
    min_seconds: float = 0.2,
    compile_step: bool = True,
    device: str = "cpu",
):
    results, comparisons = [], []
    device = torch.device(device)
    for batch, hidden, length in itertools.product(batch_sizes, hidden_sizes, lengths):
        torch.manual_seed(0)
        x = torch.randn(batch, length, hidden, device=device)
        variants = backbones(hidden, device, compile_step)
        with torch.no_grad():
            fused_out, loop_out = variants["fused"](x)[0], variants["loop"](x)[0]
        max_diff = (fused_out - loop_out).abs().max().item()
        values = interleave({name: timer(b, x, min_seconds) for name, b in variants.items()}, repeats)
        case = f"B={batch} H={hidden} T={length}"
        for name, v in values.items():
            extra = {"max_abs_diff_vs_fused": max_diff} if name == "loop" else {}
            results.append(Result("implementations", case, name, "ms per forward+backward", v, extra))
        ratio = statistics.median(values["loop"]) / statistics.median(values["fused"])
        comparisons.append(comparison("implementations", case, "loop / fused time", ratio, at_most=GOAL))
        if "loop+compile" in values:
            compiled = statistics.median(values["loop+compile"]) / statistics.median(values["fused"])
            comparisons.append(comparison("implementations", case, "loop+compile / fused time", compiled))
    return results, comparisons
