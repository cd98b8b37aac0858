"""Backpropagation through time by hand: the lecture's forward and backward passes, with no autograd.

The vanilla RNN of the slides, over time steps t = 0 … T−1 from an initial state s_{−1}::

    a_t = b + W s_{t−1} + U x_t        s_t = tanh(a_t)
    o_t = c + V s_t                    ŷ_t = softmax(o_t)
    E   = Σ_t E_t                      E_t = −log ŷ_t[y_t]   (cross-entropy against the target class y_t)

and its backward pass, one step at a time from t = T−1 down to 0 (min-char-rnn's loop)::

    dy  = ŷ_t − onehot(y_t)            ∂E_t/∂o_t: softmax and cross-entropy combined
    dV += dy s_tᵀ        dc += dy
    dh  = Vᵀ dy + dh_next              ∂E/∂s_t: through o_t, and through s_{t+1} to every later output
    da  = (1 − s_t²) ⊙ dh              ∂E/∂a_t, since tanh'(a_t) = 1 − s_t²
    dU += da x_tᵀ        dW += da s_{t−1}ᵀ        db += da
    dh_next = Wᵀ da                    ∂E/∂s_{t−1} through a_t

Every function also takes ``nonlinearity="relu"`` (s_t = relu(a_t), so 1 − s_t² becomes 1[s_t > 0]), the
other choice :class:`~rnnlab.models.ElmanCell` offers.

- :func:`manual_bptt` is the entry point: one sequence, one layer, returns ``(E, gradients)``.
- :func:`bptt_trace` keeps the pieces a learner asks for (s_t, ŷ_t, ∂E/∂s_t); :func:`state_jacobian` gives
  ∂s_t/∂s_k; :func:`per_step_grads` gives ∂E_t/∂θ for every t; :func:`bptt_terms` splits ∂E_t/∂W into the
  slide's sum over k.
- :func:`manual_bptt_stacked` runs deep and bidirectional networks.
- :func:`stacked_pass` is the batched pass behind it, for N sequences with per-position loss weights; the
  training adapter (:mod:`rnnlab.lit.manual_bptt`) runs it on a :class:`~rnnlab.models.RecurrentNet`.

Internally a sequence is time-major and its vectors are columns, as on the slides: x (T, I, N) and states
(T, H, N) hold N sequences side by side (N = 1 for a single sequence). So ``W @ s`` is the slide's W s for
every sequence at once, and ``da @ s.T`` is the slide's outer product da sᵀ summed over the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

Params = dict[str, Tensor]
"""One layer: ``U`` (H, I), ``W`` (H, H), ``b`` (H), ``V`` (K, H), ``c`` (K). A cell alone: ``U``, ``W``, ``b``."""

StackedParams = dict[str, Any]
"""``{"layers": [{"forward": cell, "backward": cell}, …], "V": (K, H·directions), "c": (K)}``, where each cell
is ``{"U", "W", "b"}`` and ``"backward"`` is present only in a bidirectional network."""

DIRECTIONS = ("forward", "backward")


class Activation(NamedTuple):
    f: Callable[[Tensor], Tensor]
    # f'(a_t) written through s_t = f(a_t): the backward pass has the states at hand, not the a_t.
    derivative: Callable[[Tensor], Tensor]


ACTIVATIONS = {
    "tanh": Activation(torch.tanh, lambda s: 1 - s**2),
    "relu": Activation(torch.relu, lambda s: (s > 0).to(s.dtype)),
}


def _activation(nonlinearity: str) -> Activation:
    if nonlinearity not in ACTIVATIONS:
        raise ValueError(f"nonlinearity must be one of {sorted(ACTIVATIONS)}, got {nonlinearity!r}")
    return ACTIVATIONS[nonlinearity]


# --- one direction of one layer ----------------------------------------------------------------------------
def _forward_direction(cell: Params, x: Tensor, s_init: Tensor, f: Callable[[Tensor], Tensor]) -> Tensor:
    """The states s_0 … s_{T−1} (T, H, N) of one recurrence over x (T, I, N), from s_{−1} = s_init (H, N)."""
    U, W, b = cell["U"], cell["W"], cell["b"].unsqueeze(-1)  # b as a column, added to every sequence's
    s, states = s_init, []
    for x_t in x:
        a_t = b + W @ s + U @ x_t
        s = f(a_t)
        states.append(s)
    return torch.stack(states)


class DirectionGradients(NamedTuple):
    grads: Params  # ∂E/∂U, ∂E/∂W, ∂E/∂b
    dE_ds: Tensor  # ∂E/∂s_t (T, H, N): from outside the recurrence, plus through s_{t+1}
    dE_dx: Tensor  # ∂E/∂x_t (T, I, N): what the layer below receives


def _backward_direction(
    cell: Params, x: Tensor, states: Tensor, s_init: Tensor, dE_ds_outside: Tensor, derivative: Callable
) -> DirectionGradients:
    """Back-propagate one recurrence through time, given the gradient reaching each of its states from
    outside it (T, H, N): Vᵀ dy from the output layer, or ∂E/∂(input) of the layer above. The loop is the
    backward pass of the module docstring, line by line."""
    U, W = cell["U"], cell["W"]
    dU, dW, db = torch.zeros_like(U), torch.zeros_like(W), torch.zeros_like(cell["b"])
    dE_ds, dE_dx = torch.empty_like(states), torch.empty_like(x)
    dh_next = torch.zeros_like(s_init)
    for t in reversed(range(len(x))):
        s_prev = states[t - 1] if t > 0 else s_init
        dh = dE_ds_outside[t] + dh_next
        da = derivative(states[t]) * dh
        dU += da @ x[t].T
        dW += da @ s_prev.T
        db += da.sum(dim=-1)
        dh_next = W.T @ da
        dE_ds[t], dE_dx[t] = dh, U.T @ da
    return DirectionGradients({"U": dU, "W": dW, "b": db}, dE_ds, dE_dx)


# --- the output layer and the loss ---------------------------------------------------------------------------
def _output_log_probs(V: Tensor, c: Tensor, states: Tensor) -> Tensor:
    """log ŷ_t = log softmax(c + V s_t) for every step: (T, K, N)."""
    o = c.unsqueeze(-1) + V @ states
    return o.log_softmax(dim=1)


def _cross_entropy(log_probs: Tensor, targets: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """The loss Σ w_t E_t and dy = ∂loss/∂o_t = w_t (ŷ_t − onehot(y_t)) (T, K, N), for targets (T, N).

    The weights (T, N) are 1 for the lecture's sum, 1/(number of valid positions) or 0 for a masked mean."""
    onehot = F.one_hot(targets, log_probs.size(1)).transpose(1, 2).to(log_probs.dtype)
    weights = weights.unsqueeze(1)  # the same weight for every class of a position
    loss = -(weights * onehot * log_probs).sum()
    dy = weights * (log_probs.exp() - onehot)
    return loss, dy


def _output_backward(V: Tensor, states: Tensor, dy: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """dV = Σ_t dy s_tᵀ and dc = Σ_t dy, summed over the batch too, and Vᵀ dy: the part of ∂E/∂s_t that
    comes straight through o_t."""
    dV = (dy @ states.transpose(1, 2)).sum(dim=0)
    dc = dy.sum(dim=(0, 2))
    return dV, dc, V.T @ dy


# --- one layer, one sequence: the slides' network ---------------------------------------------------------------
@dataclass(frozen=True)
class BPTTTrace:
    """Everything one forward and backward pass computes for one sequence of T steps."""

    loss: Tensor  # E = Σ_t E_t, a scalar
    grads: Params  # ∂E/∂U, ∂E/∂W, ∂E/∂b, ∂E/∂V, ∂E/∂c, shaped like the parameters
    states: Tensor  # s_0 … s_{T−1}: (T, H)
    probs: Tensor  # ŷ_0 … ŷ_{T−1}: (T, K)
    dE_ds: Tensor  # ∂E/∂s_t: (T, H), through o_t and through s_{t+1} (so through every later output)


def _initial_state(params: Params, s0: Tensor | None) -> Tensor:
    return params["W"].new_zeros(len(params["W"])) if s0 is None else s0


def _trace(
    params: Params, x: Tensor, targets: Tensor, s0: Tensor | None, nonlinearity: str, weights: Tensor
) -> BPTTTrace:
    """One pass of the loss Σ_t w_t E_t; weights (T,) select the steps whose losses count."""
    activation = _activation(nonlinearity)
    # One sequence is a batch of one column: every (T, ·) becomes (T, ·, 1).
    x, s_init = x.unsqueeze(-1), _initial_state(params, s0).unsqueeze(-1)
    states = _forward_direction(params, x, s_init, activation.f)
    log_probs = _output_log_probs(params["V"], params["c"], states)
    loss, dy = _cross_entropy(log_probs, targets.unsqueeze(-1), weights.unsqueeze(-1))
    dV, dc, dE_ds_output = _output_backward(params["V"], states, dy)
    back = _backward_direction(params, x, states, s_init, dE_ds_output, activation.derivative)
    return BPTTTrace(
        loss=loss,
        grads={**back.grads, "V": dV, "c": dc},
        states=states.squeeze(-1),
        probs=log_probs.exp().squeeze(-1),
        dE_ds=back.dE_ds.squeeze(-1),
    )


@torch.no_grad()
def bptt_trace(
    params: Params, x: Tensor, targets: Tensor, s0: Tensor | None = None, *, nonlinearity: str = "tanh"
) -> BPTTTrace:
    """The forward pass and BPTT for one sequence, keeping the states, the outputs ŷ_t and ∂E/∂s_t.

    x (T, I) float, targets (T) class ids, s0 (H) the state before the first step, s_{−1} (zeros if None)."""
    return _trace(params, x, targets, s0, nonlinearity, weights=torch.ones_like(targets, dtype=x.dtype))


def manual_bptt(
    params: Params, x: Tensor, targets: Tensor, s0: Tensor | None = None, *, nonlinearity: str = "tanh"
) -> tuple[Tensor, Params]:
    """The loss E = Σ_t E_t of one sequence and its gradients ``{"U", "W", "b", "V", "c"}``, by hand.

    x (T, I) float, targets (T) class ids, s0 (H) the state before the first step, s_{−1} (zeros if None).
    E is a sum over the steps, as on the slides, not the mean a training loop uses."""
    trace = bptt_trace(params, x, targets, s0, nonlinearity=nonlinearity)
    return trace.loss, trace.grads


@torch.no_grad()
def per_step_grads(
    params: Params, x: Tensor, targets: Tensor, s0: Tensor | None = None, *, nonlinearity: str = "tanh"
) -> Params:
    """∂E_t/∂θ for every step t and parameter θ, stacked over t: each value is (T, *θ.shape).

    E_t reaches back to every earlier step, so ∂E_t/∂W is itself a BPTT, of E_t alone. Summed over t they
    give manual_bptt's gradients: ∂E/∂θ = Σ_t ∂E_t/∂θ."""
    steps = torch.eye(len(x), dtype=x.dtype, device=x.device)
    per_step = [_trace(params, x, targets, s0, nonlinearity, weights=only_t).grads for only_t in steps]
    return {name: torch.stack([grads[name] for grads in per_step]) for name in per_step[0]}


@torch.no_grad()
def state_jacobian(params: Params, states: Tensor, t: int, k: int, *, nonlinearity: str = "tanh") -> Tensor:
    """∂s_t/∂s_k = Π_{j=k+1..t} diag(1 − s_j²) W, the (H, H) product along the path from s_k to s_t.

    Each factor is one step's ∂s_j/∂s_{j−1}; for k = t the product is empty (the identity). As t − k grows it
    shrinks or grows geometrically with W and the derivatives: the vanishing and exploding gradients.
    ``states`` are s_0 … s_{T−1} (T, H), e.g. :attr:`BPTTTrace.states`."""
    if not 0 <= k <= t < len(states):
        raise ValueError(f"need 0 <= k <= t < T = {len(states)}, got t={t}, k={k}")
    derivative, W = _activation(nonlinearity).derivative, params["W"]
    jacobian = torch.eye(len(W), dtype=W.dtype, device=W.device)
    for j in range(k + 1, t + 1):
        jacobian = torch.diag(derivative(states[j])) @ W @ jacobian
    return jacobian


@torch.no_grad()
def bptt_terms(
    params: Params, x: Tensor, targets: Tensor, t: int, s0: Tensor | None = None, *, nonlinearity: str = "tanh"
) -> Tensor:
    """The slide's terms of ∂E_t/∂W = Σ_{k=0..t} ∂E_t/∂ŷ_t · ∂ŷ_t/∂s_t · ∂s_t/∂s_k · ∂s_k/∂W, stacked: (t+1, H, H).

    ∂s_k/∂W is the immediate derivative, holding s_{k−1} fixed: W's use at step k alone. Contracted with
    ∂E_t/∂s_k it is the outer product (1 − s_k²) ⊙ ∂E_t/∂s_k · s_{k−1}ᵀ. With s_{−1} = 0 the k = 0 term is zero.
    """
    trace = bptt_trace(params, x, targets, s0, nonlinearity=nonlinearity)
    derivative = _activation(nonlinearity).derivative
    s_previous = torch.cat([_initial_state(params, s0).unsqueeze(0), trace.states[:-1]])  # s_{k−1} for every k
    # ∂E_t/∂ŷ_t · ∂ŷ_t/∂s_t: softmax and cross-entropy combine into ŷ_t − onehot(y_t) at o_t = c + V s_t.
    dy = trace.probs[t] - F.one_hot(targets[t], len(params["c"])).to(x.dtype)
    dE_t_ds_t = params["V"].T @ dy
    terms = []
    for k in range(t + 1):
        dE_t_ds_k = state_jacobian(params, trace.states, t, k, nonlinearity=nonlinearity).T @ dE_t_ds_t
        terms.append(torch.outer(derivative(trace.states[k]) * dE_t_ds_k, s_previous[k]))
    return torch.stack(terms)


# --- deep and bidirectional ---------------------------------------------------------------------------------------
def _reading_order(sequence: Tensor, direction: str) -> Tensor:
    """The backward direction reads the sequence from its end: flip time for it (flipping again undoes it)."""
    return sequence.flip(0) if direction == "backward" else sequence


def _directions(layer: dict[str, Params]) -> list[str]:
    """The layer's directions in the order their states are concatenated: forward, then backward."""
    return [direction for direction in DIRECTIONS if direction in layer]


def _zero_state(cell: Params, x: Tensor) -> Tensor:
    return x.new_zeros(len(cell["W"]), x.size(-1))


def _direction_forward(cell: Params, x: Tensor, direction: str, f: Callable) -> Tensor:
    """One direction's states (T, H, N) from a zero state, back in time order whichever way it reads x."""
    states = _forward_direction(cell, _reading_order(x, direction), _zero_state(cell, x), f)
    return _reading_order(states, direction)


def _layer_forward(layer: dict[str, Params], x: Tensor, f: Callable) -> dict[str, Tensor]:
    """Every direction's states over x (T, I, N)."""
    return {direction: _direction_forward(cell, x, direction, f) for direction, cell in layer.items()}


def _layer_backward(
    layer: dict[str, Params], x: Tensor, states: dict[str, Tensor], dE_dout: Tensor, derivative: Callable
) -> tuple[dict[str, Params], Tensor]:
    """Back-propagate one layer given ∂E/∂(its outputs) (T, H·directions, N): each direction goes back
    through time in its own reading order, and both add to ∂E/∂x, since each reads all of x."""
    hidden = len(layer["forward"]["W"])
    dE_douts = dict(zip(_directions(layer), dE_dout.split(hidden, dim=1), strict=True))
    grads, dE_dx = {}, torch.zeros_like(x)
    for direction, cell in layer.items():
        back = _backward_direction(
            cell,
            _reading_order(x, direction),
            _reading_order(states[direction], direction),
            _zero_state(cell, x),
            _reading_order(dE_douts[direction], direction),
            derivative,
        )
        grads[direction] = back.grads
        dE_dx += _reading_order(back.dE_dx, direction)
    return grads, dE_dx


def stacked_pass(
    params: StackedParams, x: Tensor, targets: Tensor, weights: Tensor, nonlinearity: str
) -> tuple[Tensor, StackedParams]:
    """The loss Σ w E and its gradients for N sequences side by side: x (T, I, N), targets and weights (T, N); a
    weight says how much a position counts (0 for padding)."""
    activation = _activation(nonlinearity)
    inputs, states = [], []  # per layer, kept for the backward pass
    for layer in params["layers"]:
        inputs.append(x)
        states.append(_layer_forward(layer, x, activation.f))
        # The next layer reads [forward states, backward states] at every step.
        x = torch.cat([states[-1][direction] for direction in _directions(layer)], dim=1)
    log_probs = _output_log_probs(params["V"], params["c"], x)
    loss, dy = _cross_entropy(log_probs, targets, weights)
    dV, dc, dE_dout = _output_backward(params["V"], x, dy)
    layer_grads = []
    for layer, layer_x, layer_states in reversed(list(zip(params["layers"], inputs, states, strict=True))):
        grads, dE_dout = _layer_backward(layer, layer_x, layer_states, dE_dout, activation.derivative)
        layer_grads.insert(0, grads)
    return loss, {"layers": layer_grads, "V": dV, "c": dc}


@torch.no_grad()
def manual_bptt_stacked(
    params: StackedParams, x: Tensor, targets: Tensor, *, nonlinearity: str = "tanh"
) -> tuple[Tensor, StackedParams]:
    """The loss E = Σ_t E_t of one sequence through a deep and/or bidirectional RNN, and its gradients shaped
    like ``params`` (see :data:`StackedParams`).

    Layer k > 0 reads the concatenation [forward states, backward states] of layer k − 1; the backward
    direction runs over reversed time. Every direction starts from a zero state. x (T, I), targets (T)."""
    weights = torch.ones_like(targets, dtype=x.dtype)
    return stacked_pass(params, x.unsqueeze(-1), targets.unsqueeze(-1), weights.unsqueeze(-1), nonlinearity)
