"""Analysis: the lecture's algorithms written out by hand, to check against and learn from autograd."""

from rnnlab.analysis.bptt import (
    BPTTTrace,
    bptt_terms,
    bptt_trace,
    manual_bptt,
    manual_bptt_stacked,
    per_step_grads,
    state_jacobian,
)

__all__ = [
    "BPTTTrace",
    "bptt_terms",
    "bptt_trace",
    "manual_bptt",
    "manual_bptt_stacked",
    "per_step_grads",
    "state_jacobian",
]
