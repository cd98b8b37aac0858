"""Efficiency: the character LSTM's training throughput against the machine's own matrix-multiply peak.

rnnlab's language model (``task=char_lm``, truncated BPTT, embedding 64) trains on a generated text of 65
symbols; tokens/s come from its steady-state epochs. Its useful work per token is counted from the matrix
products of the model (forward ≈ 1/3 of forward + backward):

    LSTM:   2 · (E + H) · 4H      gates from [x_t; h_{t−1}]
    output: 2 · H · V             logits

times 3 for forward + backward. The peak is the best GFLOP/s of a large square matrix product in the same
process, same threads, same precision.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from rnnlab.bench.harness import Result, comparison, interleave
from rnnlab.bench.overhead import compose_train, timed_train

SYMBOLS = [chr(c) for c in range(ord("!"), ord("!") + 65)]
GOAL = 0.5  # of the matmul peak


def flops_per_token(embedding: int, hidden: int, vocab: int) -> float:
    return 3 * (2 * (embedding + hidden) * 4 * hidden + 2 * hidden * vocab)


def matmul_peak(size: int = 2048, seconds: float = 0.5, device: str = "cpu") -> float:
    """GFLOP/s of ``size`` × ``size`` float32 matrix products, best of several timed bursts."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == 0.0:
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def lm_tokens_per_second(text_file: Path, hidden: int, batch: int, length: int, epochs: int, device: str) -> float:
    cfg = compose_train(
        [
            "task=char_lm",
            "model=lstm",
            f"model.hidden_size={hidden}",
            "task.input_encoding=embedding",
            "task.embedding_dim=64",
            f"task.bptt={length}",
            f"task.data.path={text_file}",
            f"task.data.batch_size={batch}",
            f"task.data.eval_batch_size={batch}",
            f"task.data.window={length}",
            "task.stopping_threshold=null",
            f"trainer.max_epochs={epochs}",
            f"trainer.min_epochs={epochs}",
            f"trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
            "~callbacks.early_stopping",
            "~callbacks.generated_samples",
            "test=false",
        ]
    )
    seconds, objects = timed_train(cfg)
    tokens = objects["datamodule"].streams("train")[0].numel()
    return tokens / statistics.median(seconds[1:])


def run(
    hidden: int = 512,
    batch: int = 64,
    length: int = 100,
    batches: int = 8,
    epochs: int = 3,
    repeats: int = 3,
    device: str = "cpu",
):
    generator = torch.Generator().manual_seed(0)
    # The train split (90 %) holds `batches` windows of every stream; val and test (5 % each) one stream each.
    characters = int(batch * length * batches / 0.9) + 40 * (batch + 1)
    text = "".join(SYMBOLS[i] for i in torch.randint(len(SYMBOLS), (characters,), generator=generator).tolist())
    flops = flops_per_token(64, hidden, len(SYMBOLS))
    with tempfile.TemporaryDirectory() as tmp:
        text_file = Path(tmp) / "text.txt"
        text_file.write_text(text)
        values = interleave(
            {
                "char LM tokens/s": lambda: lm_tokens_per_second(text_file, hidden, batch, length, epochs, device),
                "matmul peak GFLOP/s": lambda: matmul_peak(device=device),
            },
            repeats,
        )
    case = f"LSTM H={hidden} B={batch} T={length}"
    tokens = Result("efficiency", case, "rnnlab char LM", "tokens/s", values["char LM tokens/s"])
    achieved = Result(
        "efficiency", case, "rnnlab char LM", "GFLOP/s", [t * flops / 1e9 for t in tokens.values], {"flops": flops}
    )
    peak = Result("efficiency", case, "matmul peak", "GFLOP/s", values["matmul peak GFLOP/s"])
    share = achieved.median / peak.median
    comparisons = [comparison("efficiency", case, "achieved / matmul peak", share, at_least=GOAL)]
    return [tokens, achieved, peak], comparisons
