"""The recurrent backbone: vanilla, bidirectional and deep RNN/LSTM/GRU in two implementations.

``impl="fused"`` wraps ``torch.nn.RNN``/``LSTM``/``GRU`` (one optimised kernel; cuDNN on a GPU).
``impl="loop"`` runs the explicit cells of :mod:`rnnlab.models.cell` over time in Python, so every
intermediate state is an ordinary tensor a learner can inspect or ``retain_grad`` on. Both give the same
outputs for the same weights, and each loads the other's ``state_dict`` (the keys are translated on load).

Inputs are batch-first ``(N, T, input_size)``. ``lengths`` (N,) marks right-padded sequences: positions at or
after a sequence's length neither update the state nor leak into the backward direction, and their outputs
are zero, as with ``pack_padded_sequence``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.models.cell import make_cell
from rnnlab.models.gate_init import init_gates_

State = Tensor | tuple[Tensor, Tensor]  # (layers*directions, N, H), or (h, c) for the LSTM

CELLS = ("rnn", "lstm", "gru")
IMPLS = ("fused", "loop")
_FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
TORCH_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def resolve_impl(impl: str, cell: str, on_gpu: bool) -> str:
    """The implementation ``impl`` runs: itself, or for ``auto`` cuDNN's fused kernels on a GPU and, on a CPU, the
    loop for the vanilla cell (as fast as the fused kernel or faster at every shape ``scripts/bench.py`` measures,
    and it shows every state) and the fused (oneDNN) kernels for the gated cells."""
    if impl != "auto":
        return impl
    return "fused" if on_gpu or cell != "rnn" else "loop"


def fused_key(param: str, layer: int, direction: int) -> str:
    """The name torch.nn.RNN/LSTM/GRU gives a parameter of one layer and direction, under ``rnn.``."""
    return f"rnn.{param}_l{layer}{'_reverse' if direction else ''}"


def map_state(fn, state: State) -> State:
    """``fn`` applied to a recurrent state: a tensor, or each tensor of an LSTM's (h, c)."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of ``x`` (N, T, ...) within its own length; padding stays where it is."""
    if lengths is None:
        return x.flip(1)
    t = torch.arange(x.size(1), device=x.device)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(t < lengths, lengths - 1 - t, t)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


class RecurrentBackbone(nn.Module):
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        cell: str = "rnn",
        nonlinearity: str = "tanh",
        impl: str = "fused",
        *,
        forget_bias: float | None = None,
        gate_init: str = "default",
        chrono_tmax: float | None = None,
    ) -> None:
        """``forget_bias``, ``gate_init``, ``chrono_tmax``: the gated cells' gate biases, see
        :func:`~rnnlab.models.gate_init.init_gates_` (unset: torch's initialisation, and the same draws from the
        global generator as without them)."""
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {list(CELLS)}, got {cell!r}")
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {list(IMPLS)}, got {impl!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.cell, self.nonlinearity, self.impl = bidirectional, cell, nonlinearity, impl
        self.num_directions = 2 if bidirectional else 1
        if impl == "fused":
            extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
            self.rnn = _FUSED[cell](
                input_size,
                hidden_size,
                num_layers=num_layers,
                bidirectional=bidirectional,
                dropout=dropout,
                batch_first=True,
                **extra,
            )
        else:
            self.layers = nn.ModuleList(
                nn.ModuleList(
                    make_cell(
                        cell, input_size if k == 0 else hidden_size * self.num_directions, hidden_size, nonlinearity
                    )
                    for _ in range(self.num_directions)
                )
                for k in range(num_layers)
            )
            self.inter_layer_dropout = nn.Dropout(dropout)
        self.register_load_state_dict_pre_hook(self._translate_state_dict)
        if forget_bias is not None or gate_init != "default" or chrono_tmax is not None:
            init_gates_(self, forget_bias=forget_bias, gate_init=gate_init, chrono_tmax=chrono_tmax)

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.num_directions

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: State | None = None) -> tuple[Tensor, State]:
        """Return ``(outputs, final_state)``: outputs (N, T, directions*H) of the last layer, and the final
        state of every layer and direction in ``torch.nn.RNN``'s layout (layers*directions, N, H)."""
        if self.impl == "fused":
            return self._forward_fused(x, lengths, state)
        return self._forward_loop(x, lengths, state)

    def trace(
        self, x: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State, list[list[list[Tensor]]]]:
        """``forward`` plus every hidden state the recurrence used: ``states[layer][direction][step]`` (N, H),
        steps in the order the direction visits them (the backward direction from the end). The states are
        the very tensors later steps read, so ``torch.autograd.grad(loss, states[l][d])`` gives ∂loss/∂s_k
        through every path, recurrent ones included. Needs ``impl="loop"``: the fused kernel keeps its
        intermediate states inside."""
        if self.impl != "loop":
            raise ValueError("trace needs impl='loop': the fused kernel keeps its intermediate states inside")
        states: list[list[list[Tensor]]] = []
        outputs, final = self._forward_loop(x, lengths, state, states)
        return outputs, final, states

    @torch.no_grad()
    def set_recurrent_radius_(self, radius: float) -> None:
        """Rescale every recurrent H×H matrix (W, or each gate block of weight_hh) to spectral radius ``radius``:
        above 1 the state dynamics, and the gradients through time, tend to explode."""
        for name, weight in self.named_parameters():
            if name.endswith(".W") or "weight_hh" in name:
                for block in weight.split(self.hidden_size, dim=0):
                    block.mul_(radius / torch.linalg.eigvals(block).abs().max())

    def final_features(self, final_state: State) -> Tensor:
        """The last layer's final hidden state(s), directions concatenated: (N, directions*H)."""
        h = final_state[0] if isinstance(final_state, tuple) else final_state
        return torch.cat(list(h[-self.num_directions :]), dim=-1)

    def _forward_fused(self, x, lengths, state):
        if lengths is None:
            return self.rnn(x, state)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, final = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return out, final

    def _forward_loop(self, x, lengths, state, trace=None):
        finals = []
        for k, layer in enumerate(self.layers):
            if k > 0:
                x = self.inter_layer_dropout(x)
            outs = []
            if trace is not None:
                trace.append([])
            for d, cell in enumerate(layer):
                s0 = None if state is None else map_state(lambda s, i=k * self.num_directions + d: s[i], state)
                steps = None if trace is None else []
                out, final = self._run_direction(cell, x, lengths, s0, reverse=d == 1, steps=steps)
                if trace is not None:
                    trace[-1].append(steps)
                outs.append(out)
                finals.append(final)
            x = torch.cat(outs, dim=-1)
        if isinstance(finals[0], tuple):
            return x, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        return x, torch.stack(finals)

    @staticmethod
    def _run_direction(
        cell: nn.Module,
        x: Tensor,
        lengths: Tensor | None,
        state: State | None,
        reverse: bool,
        steps: list[Tensor] | None = None,
    ):
        if reverse:
            x = reverse_padded(x, lengths)
        if state is None:
            state = cell.initial_state(x.size(0), x)
        if lengths is not None:
            lengths = lengths.to(x.device)
        outputs = []
        # The input terms of every step in one product; unbind (not x[:, t]) so that the backward pass gathers
        # the T step gradients into one tensor instead of adding T mostly-zero copies of it.
        for t, input_part in enumerate(cell.input_part(x).unbind(1)):
            out, new_state = cell.step(input_part, state)
            if lengths is not None:
                # Past a sequence's end the state is frozen and the output is zero.
                valid = (t < lengths).unsqueeze(-1)
                new_state = (
                    tuple(torch.where(valid, n, o) for n, o in zip(new_state, state, strict=True))
                    if isinstance(state, tuple)
                    else torch.where(valid, new_state, state)
                )
                out = torch.where(valid, out, torch.zeros_like(out))
            state = new_state
            outputs.append(out)
            if steps is not None:
                steps.append(state[0] if isinstance(state, tuple) else state)
        out = torch.stack(outputs, dim=1)
        return (reverse_padded(out, lengths) if reverse else out), state

    # --- weight translation between the two implementations -------------------------------------------
    def _translate_state_dict(self, module, state_dict, prefix, *args) -> None:
        if self.impl == "loop" and prefix + fused_key("weight_ih", 0, 0) in state_dict:
            self._fused_to_loop(state_dict, prefix)
        elif self.impl == "fused" and f"{prefix}layers.0.0.{self._loop_params()[0]}" in state_dict:
            self._loop_to_fused(state_dict, prefix)

    def _loop_params(self) -> tuple[str, ...]:
        return ("U", "W", "b") if self.cell == "rnn" else TORCH_PARAMS

    def _slots(self):
        for k in range(self.num_layers):
            for d in range(self.num_directions):
                yield k, d, f"layers.{k}.{d}."

    def _fused_to_loop(self, sd: dict, prefix: str) -> None:
        for k, d, loop in self._slots():
            keys = [prefix + fused_key(p, k, d) for p in TORCH_PARAMS]
            if not all(key in sd for key in keys):
                continue  # another architecture: load_state_dict reports the missing/unexpected keys
            fused = {p: sd.pop(key) for p, key in zip(TORCH_PARAMS, keys, strict=True)}
            if self.cell == "rnn":
                # The slide's single bias b is the sum of torch's two.
                fused = {"U": fused["weight_ih"], "W": fused["weight_hh"], "b": fused["bias_ih"] + fused["bias_hh"]}
            for name, value in fused.items():
                sd[prefix + loop + name] = value

    def _loop_to_fused(self, sd: dict, prefix: str) -> None:
        for k, d, loop in self._slots():
            keys = [prefix + loop + p for p in self._loop_params()]
            if not all(key in sd for key in keys):
                continue  # another architecture: load_state_dict reports the missing/unexpected keys
            values = {p: sd.pop(key) for p, key in zip(self._loop_params(), keys, strict=True)}
            if self.cell == "rnn":
                values = {
                    "weight_ih": values["U"],
                    "weight_hh": values["W"],
                    "bias_ih": values["b"],
                    "bias_hh": torch.zeros_like(values["b"]),
                }
            for name, value in values.items():
                sd[prefix + fused_key(name, k, d)] = value
