"""The caption grid: each image under its generated caption, wrong ones in red with the truth; wide images (several
digits side by side) keep their aspect, in fewer columns."""

from __future__ import annotations

import pytest
import torch

from rnnlab.analysis.captions import caption_grid


@pytest.mark.parametrize(("width", "columns", "rows"), [(8, 8, 1), (32, 2, 4), (24, 3, 3)])
def test_the_grid_keeps_the_images_aspect(width, columns, rows):
    images = torch.rand(8, 8, width)
    captions = ["seven"] * 7 + ["one"]
    figure = caption_grid(images, captions, ["seven"] * 8)
    axes = figure.get_axes()
    assert len(axes) == 8
    assert axes[0].get_subplotspec().get_gridspec().get_geometry() == (rows, columns)
    assert axes[0].get_images()[0].get_array().shape == (8, width)
    assert axes[0].get_title() == "seven" and axes[0].title.get_color() == "black"
    assert axes[7].get_title() == "one\n(true: seven)" and axes[7].title.get_color() == "red"
    assert figure.get_size_inches()[0] == pytest.approx(1.3 * width / 8 * columns)
