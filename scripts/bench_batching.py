"""Training throughput of a word-level task with random batches versus length-bucketed batches.

python scripts/bench_batching.py                       # task=pos model=birnn, 60 steps per variant, 3 rounds
python scripts/bench_batching.py --steps 40 -- task=sentiment model=lstm
Builds the task's data and model from the configs, then times optimizer steps (forward, backward, Adam) on
the same model, alternating the two batch orders (A B A B …) so machine noise hits both alike. Prints real
(unpadded) tokens per second and the padded share of each variant.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from hydra import compose, initialize_config_dir

from rnnlab.data.batches import EpochBatchSampler
from rnnlab.run.build import build_module
from rnnlab.run.config import CONFIG_DIR
from rnnlab.run.datamodule import build_datamodule


def run(module, optimizer, dataset, sampler, steps: int) -> tuple[float, int, int]:
    tokens = padded = 0
    start = time.perf_counter()
    for _, index in zip(range(steps), sampler, strict=False):
        batch = dataset[index]
        loss = module.step(batch, "train")  # the training step's forward pass, loss and metrics
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        tokens += int(batch["lengths"].sum())
        padded += batch["input"].shape[0] * batch["input"].shape[1]
    return time.perf_counter() - start, tokens, padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("overrides", nargs="*", default=["task=pos", "model=birnn"])
    args = parser.parse_args()
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=args.overrides)
    torch.manual_seed(cfg.seed)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule.vocab).train()
    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    dataset, size, batch_size = datamodule.split("train"), len(datamodule.split("train")), cfg.task.data.batch_size
    variants = {
        "random": EpochBatchSampler(size, batch_size, shuffle=True, seed=cfg.seed),
        "bucketed": EpochBatchSampler(
            size,
            batch_size,
            shuffle=True,
            seed=cfg.seed,
            lengths=dataset.lengths,
            equal_tokens="target" in dataset.tokens,
        ),
    }
    rates: dict[str, list[float]] = {name: [] for name in variants}
    shares: dict[str, float] = {}
    for round_ in range(args.rounds):
        for name, sampler in variants.items():
            sampler.set_epoch(round_)
            seconds, tokens, padded = run(module, optimizer, dataset, sampler, args.steps)
            rates[name].append(tokens / seconds)
            shares[name] = 1 - tokens / padded
    print(f"{' '.join(args.overrides)}: {args.steps} steps × {args.rounds} rounds, batch {batch_size}")
    print("| batches | tokens/s (median) | min | max | padding |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rates.items():
        print(
            f"| {name} | {statistics.median(values):,.0f} | {min(values):,.0f} | {max(values):,.0f} "
            f"| {shares[name]:.0%} |"
        )
    print(f"speed-up: {statistics.median(rates['bucketed']) / statistics.median(rates['random']):.2f}×")


if __name__ == "__main__":
    main()
