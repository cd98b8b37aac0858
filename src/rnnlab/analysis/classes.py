"""Per-class scores and a confusion-matrix figure, from a confusion matrix (rows: true class, columns: predicted)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def per_class_scores(confusion: Tensor) -> dict[str, Tensor]:
    """Precision, recall, F1 and support of every class (0 where a class is never predicted or never true)."""
    confusion = confusion.double()
    true_positives = confusion.diagonal()
    predicted, support = confusion.sum(dim=0), confusion.sum(dim=1)
    precision = torch.where(predicted > 0, true_positives / predicted.clamp_min(1), 0.0)
    recall = torch.where(support > 0, true_positives / support.clamp_min(1), 0.0)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall).clamp_min(1e-12), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.long()}


def score_table(confusion: Tensor, labels: Sequence[str]) -> str:
    """A markdown table of per-class precision/recall/F1/support, most frequent class first. A class neither in
    the split nor predicted has no row: torchmetrics' macro-F1 leaves such classes out too, so the mean of the F1
    column is the split's macro-F1."""
    scores = per_class_scores(confusion)
    present = (scores["support"] > 0) | (confusion.sum(dim=0) > 0)
    lines = ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for i in scores["support"].argsort(descending=True, stable=True).tolist():
        if not present[i]:
            continue
        p, r, f, n = (scores[k][i].item() for k in ("precision", "recall", "f1", "support"))
        lines.append(f"| {labels[i]} | {p:.3f} | {r:.3f} | {f:.3f} | {n} |")
    return "\n".join(lines)


def confusion_figure(confusion: Tensor, labels: Sequence[str], title: str = "confusion (rows: true, share)"):
    """Row-normalised confusion matrix as a matplotlib Figure (no pyplot state)."""
    from matplotlib.figure import Figure

    shares = confusion.double() / confusion.sum(dim=1, keepdim=True).clamp_min(1)
    size = 2.5 + 0.35 * len(labels)
    fig = Figure(figsize=(size, size))
    ax = fig.add_subplot()
    ax.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
