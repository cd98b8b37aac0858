"""Lightning callbacks of rnnlab: gradient flow through time and the non-finite guard."""

from rnnlab.callbacks.gradient_flow import GradientFlowMonitor
from rnnlab.callbacks.nonfinite_guard import NonFiniteGuard
from rnnlab.errors import TrainingDiverged

__all__ = ["GradientFlowMonitor", "NonFiniteGuard", "TrainingDiverged"]
