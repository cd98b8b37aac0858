"""A grid of images with the captions a model wrote for them (wrong ones in red, with the true caption)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure
from torch import Tensor


def caption_grid(images: Tensor, captions: Sequence[str], truths: Sequence[str], columns: int = 8) -> Figure:
    """``images`` (N, H, W) in [0, 1]; each drawn under its generated caption."""
    rows = math.ceil(len(images) / columns)
    figure = Figure(figsize=(1.3 * columns, 1.55 * rows))
    for i, (image, caption, truth) in enumerate(zip(images, captions, truths, strict=True)):
        axes = figure.add_subplot(rows, columns, i + 1)
        axes.imshow(image.cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
        right = caption == truth
        axes.set_title(
            caption if right else f"{caption}\n(true: {truth})", fontsize=8, color="black" if right else "red"
        )
        axes.set_axis_off()
    figure.tight_layout()
    return figure
