"""What the hand-written BPTT tests share (tests/analysis/test_bptt.py, tests/lit/test_manual_bptt.py): small
float64 nets of the project and a relative-error comparison."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.models import RecurrentBackbone, RecurrentNet

N, T, INPUT, H, K = 4, 6, 3, 5, 4  # batch, steps, input, hidden and class sizes
SHAPES = {"uni": (1, False), "deep": (2, False), "bi": (1, True), "deep-bi": (2, True)}
TOL = 1e-10  # relative error allowed between the manual and the autograd gradients


def make_net(shape="uni", impl="loop", *, input_size=INPUT, num_classes=K, head="many_to_many", **backbone_options):
    torch.manual_seed(0)
    num_layers, bidirectional = SHAPES[shape]
    backbone = RecurrentBackbone(input_size, H, num_layers, bidirectional, impl=impl, **backbone_options)
    return RecurrentNet(backbone, head, num_classes).double()


def assert_rel_close(actual, expected, path="value"):
    """Same nesting and shapes, and ‖actual − expected‖ ≤ TOL ‖expected‖ for every tensor."""
    if isinstance(expected, Tensor):
        assert actual.shape == expected.shape, path
        error = (actual - expected).norm() / expected.norm()
        assert error <= TOL, f"{path}: relative error {error:.2e}"
    elif isinstance(expected, dict):
        assert actual.keys() == expected.keys(), path
        for key in expected:
            assert_rel_close(actual[key], expected[key], f"{path}[{key!r}]")
    else:
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_rel_close(a, e, f"{path}[{i}]")


def random_batch(masked: bool) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(3)
    batch = {
        "input": torch.randn(N, T, INPUT, generator=generator, dtype=torch.float64),
        "target": torch.randint(K, (N, T), generator=generator),
    }
    if masked:
        batch["mask"] = torch.rand(N, T, generator=generator) < 0.6
        batch["target"] = batch["target"].masked_fill(~batch["mask"], -1)  # padding carries garbage targets
    return batch
