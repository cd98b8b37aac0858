"""A grid of images with the captions a model wrote for them (wrong ones in red, with the true caption)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure
from torch import Tensor

CELL_INCHES = 1.3  # the height of an image in the grid; its width keeps the image's aspect


def caption_grid(images: Tensor, captions: Sequence[str], truths: Sequence[str], columns: int | None = None) -> Figure:
    """``images`` (N, H, W) in [0, 1]; each drawn under its generated caption. ``columns``: by default, about as
    wide a grid as eight square images (eight single digits, two rows of four digits side by side)."""
    aspect = images.size(2) / images.size(1)
    columns = columns or max(1, round(8 / aspect))
    rows = math.ceil(len(images) / columns)
    figure = Figure(figsize=(CELL_INCHES * aspect * columns, 1.55 * rows))
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
