"""Gate bias initialisation for the gated cells: a set forget bias, or chrono initialisation.

torch draws every LSTM/GRU bias from U(−1/√H, 1/√H), so a fresh LSTM's forget gate sits near σ(0) = 0.5: the
cell state halves at every step, and a cue ``gap`` steps back reaches the output scaled by about 0.5^gap. The
literature's remedies set the gate biases instead:

- ``forget_bias=x`` (Gers et al. 2000; Jozefowicz et al. 2015 recommend x = 1): the LSTM's forget gate, or the
  GRU's update gate z, starts at σ(x), closer to keeping the state;
- ``gate_init="chrono"`` (Tallec & Ollivier 2018): per unit, b_f ~ log U[1, T_max − 1] and b_i = −b_f, so the
  units start with memory time scales spread up to about T_max, the longest dependency expected.

torch's gate order is (input i, forget f, cell g, output o) for the LSTM and (reset r, update z, new n) for the
GRU, whose state is h_t = (1 − z) n + z h_{t−1}: z is its "keep" gate and plays the LSTM forget gate's part.

Each gate's pre-activation adds two biases, ``bias_ih`` and ``bias_hh`` (fused kernel and loop cells alike).
The value is written once, into ``bias_ih``, and the same slice of ``bias_hh`` is zeroed: writing it into both
would double it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError

# The functions take a RecurrentBackbone (rnnlab.models.backbone), which calls init_gates_ as it is built; typed as
# nn.Module so that this module does not import the backbone back.
GATE_INITS = ("default", "chrono")
GATED_CELLS = ("lstm", "gru")
# Each gate's row block in torch's stacked weights and biases: index k covers rows k*H … (k+1)*H − 1.
GATE_BLOCKS = {"lstm": {"input": 0, "forget": 1}, "gru": {"update": 1}}
# The gate that keeps the state, which forget_bias and chrono set.
KEEP_GATE = {"lstm": "forget", "gru": "update"}
DIRECTIONS = ("forward", "backward")


def sequence_length(task: Mapping[str, Any]) -> int | None:
    """The length of a task's sequences (its ``task.*`` config), where the task fixes one: what chrono
    initialisation spans when ``chrono_tmax`` is not set."""
    data = task.get("data") or {}
    for value in (task.get("seq_len"), data.get("length"), task.get("bptt")):
        if value is not None:
            return int(value)
    return task["gap"] + 1 if task.get("gap") is not None else None


def check_gate_init(cell: str, forget_bias: float | None, gate_init: str, chrono_tmax: float | None) -> None:
    """Raise :class:`ConfigError` for a gate initialisation that cannot apply, naming the ``model.*`` key.

    ``forget_bias`` together with ``gate_init=chrono`` is refused: chrono sets that very bias itself.
    ``chrono_tmax`` null passes (the run layer derives it from the task's sequence length), but a value without
    ``gate_init=chrono`` is refused, since nothing would read it.
    """
    if gate_init not in GATE_INITS:
        raise ConfigError(f"model.gate_init={gate_init!r} is not one of {', '.join(GATE_INITS)}")
    gated = cell in GATED_CELLS
    if gate_init == "chrono" and not gated:
        raise ConfigError(
            f"model.gate_init=chrono applies to gated cells ({', '.join(GATED_CELLS)}); model.cell={cell} has no gates"
        )
    if forget_bias is not None:
        if not gated:
            raise ConfigError(
                f"model.forget_bias={forget_bias} applies to gated cells ({', '.join(GATED_CELLS)}); "
                f"model.cell={cell} has no gates (set model.forget_bias=null)"
            )
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, int | float) or not math.isfinite(forget_bias):
            raise ConfigError(f"model.forget_bias={forget_bias!r} must be a finite number, e.g. 1.0 (or null)")
        if gate_init == "chrono":
            raise ConfigError(
                f"model.forget_bias={forget_bias} with model.gate_init=chrono: chrono sets the forget bias itself; "
                "set model.forget_bias=null or model.gate_init=default"
            )
    if chrono_tmax is not None:
        if gate_init != "chrono":
            raise ConfigError(
                f"model.chrono_tmax={chrono_tmax} is read by model.gate_init=chrono only (got gate_init={gate_init}); "
                "set model.chrono_tmax=null"
            )
        if isinstance(chrono_tmax, bool) or not isinstance(chrono_tmax, int | float) or not chrono_tmax > 2:
            raise ConfigError(
                f"model.chrono_tmax={chrono_tmax} must be > 2: chrono draws the forget bias from "
                "log U[1, chrono_tmax − 1], e.g. the task's sequence length"
            )


def _bias_pairs(backbone: nn.Module) -> Iterator[tuple[str, Tensor, Tensor]]:
    """``(name, bias_ih, bias_hh)`` of every layer and direction, named ``l{layer}.{direction}``, in layer then
    direction order (the same for both implementations)."""
    for k in range(backbone.num_layers):
        for d in range(backbone.num_directions):
            if backbone.impl == "fused":
                suffix = f"_l{k}{'_reverse' if d else ''}"
                owner, ih, hh = backbone.rnn, f"bias_ih{suffix}", f"bias_hh{suffix}"
            else:
                owner, ih, hh = backbone.layers[k][d], "bias_ih", "bias_hh"
            yield f"l{k}.{DIRECTIONS[d]}", getattr(owner, ih), getattr(owner, hh)


def _rows(cell: str, gate: str, hidden_size: int) -> slice:
    block = GATE_BLOCKS[cell][gate]
    return slice(block * hidden_size, (block + 1) * hidden_size)


@torch.no_grad()
def init_gates_(
    backbone: nn.Module,
    *,
    forget_bias: float | None = None,
    gate_init: str = "default",
    chrono_tmax: float | None = None,
    generator: torch.Generator | None = None,
) -> None:
    """Set the gate biases of every layer and direction of ``backbone`` in place (see the module docstring).

    LSTM: ``forget_bias`` sets b_f; chrono draws b_f ~ log U[1, chrono_tmax − 1] per unit and sets b_i = −b_f.
    GRU: ``forget_bias`` sets the update gate's b_z; chrono draws b_z the same way. The GRU has no separate input
    gate: it writes with weight 1 − z, so b_z alone sets both how much it keeps and how much it writes.
    Chrono draws from ``generator`` (torch's global generator when None), one layer and direction after another,
    so fused and loop backbones given equal generators get equal biases.

    Raises :class:`~rnnlab.errors.ConfigError` (a ValueError) for what :func:`check_gate_init` refuses, and
    ValueError for chrono without ``chrono_tmax``.
    """
    check_gate_init(backbone.cell, forget_bias, gate_init, chrono_tmax)
    if gate_init == "chrono" and chrono_tmax is None:
        raise ValueError("gate_init='chrono' needs chrono_tmax, the longest dependency expected (> 2)")
    if forget_bias is None and gate_init == "default":
        return
    cell, hidden = backbone.cell, backbone.hidden_size
    keep = _rows(cell, KEEP_GATE[cell], hidden)
    for _, bias_ih, bias_hh in _bias_pairs(backbone):
        if gate_init == "chrono":
            uniform = torch.rand(hidden, generator=generator, dtype=torch.float64)
            keep_bias = torch.log1p(uniform * (chrono_tmax - 2))  # log U[1, T_max − 1]
        else:
            keep_bias = torch.full((hidden,), float(forget_bias), dtype=torch.float64)
        gates = [(keep, keep_bias)]
        if gate_init == "chrono" and cell == "lstm":
            gates.append((_rows(cell, "input", hidden), -keep_bias))
        for rows, value in gates:
            bias_ih[rows] = value.to(bias_ih)
            bias_hh[rows] = 0.0


def effective_gate_biases(backbone: nn.Module) -> dict[str, Tensor]:
    """The bias each gate's pre-activation adds (``bias_ih + bias_hh``), per layer, direction and gate:
    keys ``l{layer}.{forward|backward}.{gate}`` with gates input and forget (LSTM) or update (GRU), values (H,).
    Empty for the vanilla cell, which has no gates."""
    if backbone.cell not in GATED_CELLS:
        return {}
    biases = {}
    for name, bias_ih, bias_hh in _bias_pairs(backbone):
        for gate in GATE_BLOCKS[backbone.cell]:
            rows = _rows(backbone.cell, gate, backbone.hidden_size)
            biases[f"{name}.{gate}"] = (bias_ih[rows] + bias_hh[rows]).detach().clone()
    return biases


def gate_bias_summary(backbone: nn.Module) -> dict[str, float]:
    """The mean effective bias of each gate over all units, layers and directions, keyed by gate (``forget``,
    ``input`` for the LSTM; ``update`` for the GRU; empty for the vanilla cell): one number per gate to log."""
    if backbone.cell not in GATED_CELLS:
        return {}
    biases = effective_gate_biases(backbone)
    return {
        gate: torch.cat([value for key, value in biases.items() if key.endswith(f".{gate}")]).mean().item()
        for gate in GATE_BLOCKS[backbone.cell]
    }
