"""What a second intra-op thread gains a recurrent model's training step, by size: the measurement behind
``threads=auto`` (:mod:`rnnlab.run.threads`).

An LSTM (the project's network, built from the config) trains on random sequences of ``length`` steps; one and two
threads take turns, and each reports training sequences per second. The comparison per case is the gain (two
threads ÷ one) beside the recurrent work per time step and what ``auto`` picks for it; ``auto`` is right when it
picks one thread exactly where the gain is below 10 %.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from rnnlab.bench.harness import Result, comparison, interleave
from rnnlab.bench.overhead import compose_train
from rnnlab.run.build import build_net
from rnnlab.run.threads import is_small, recurrent_work

CASES = ((32, 16), (32, 32), (64, 32), (32, 48), (32, 64), (32, 128), (32, 256), (256, 32), (256, 128))


def steps_per_second(cfg, threads: int, steps: int) -> float:
    """Training sequences per second of the network of ``cfg`` with ``threads`` intra-op threads."""
    torch.manual_seed(0)
    net = build_net(cfg.model, cfg.task)
    optimizer = torch.optim.Adam(net.parameters())
    batch, length = cfg.task.data.batch_size, cfg.task.seq_len
    x = torch.randint(0, 2, (batch, length, cfg.task.input_size)).float()
    y = torch.randint(0, cfg.task.num_classes, (batch, length))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for step in range(steps + 2):
            if step == 2:  # two warm-up steps
                start = time.perf_counter()
            logits = net(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return steps * batch / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)


def run(cases=CASES, length: int = 50, steps: int = 20, repeats: int = 5, device: str = "cpu"):
    results, comparisons = [], []
    for batch, hidden in cases:
        cfg = compose_train(
            [
                "task=flip_stream",
                "model=lstm",
                f"model.hidden_size={hidden}",
                f"task.seq_len={length}",
                f"task.data.batch_size={batch}",
            ]
        )
        values = interleave(
            {f"{n} thread(s)": lambda n=n, cfg=cfg: steps_per_second(cfg, n, steps) for n in (1, 2)}, repeats
        )
        case = f"LSTM B={batch} H={hidden} T={length}"
        work = recurrent_work(cfg)
        for variant, v in values.items():
            results.append(Result("threads", case, variant, "sequences/s", v, {"work": work}))
        gain = sorted(values["2 thread(s)"])[repeats // 2] / sorted(values["1 thread(s)"])[repeats // 2]
        picks = 1 if is_small(cfg) else 2
        comparisons.append(
            comparison(
                "threads",
                f"{case} (work {work:,}/step; auto picks {picks})",
                "2 threads / 1",
                gain,
                goal="< 1.10 where auto picks 1" if picks == 1 else "≥ 1.10 where auto picks 2",
                met=gain < 1.10 if picks == 1 else gain >= 1.10,
            )
        )
    return results, comparisons
