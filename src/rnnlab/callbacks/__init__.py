"""Lightning callbacks of rnnlab: gradient flow through time, the non-finite guard, steps-to-solve, per-class
reports, generated samples."""

from rnnlab.callbacks.class_report import ClassReport
from rnnlab.callbacks.gradient_flow import GradientFlowMonitor
from rnnlab.callbacks.nonfinite_guard import NonFiniteGuard
from rnnlab.callbacks.resilience import InterruptHandler, RngState
from rnnlab.callbacks.samples import GeneratedSamples
from rnnlab.callbacks.solve_tracker import SolveTracker
from rnnlab.errors import TrainingDiverged

__all__ = [
    "ClassReport",
    "GeneratedSamples",
    "GradientFlowMonitor",
    "InterruptHandler",
    "NonFiniteGuard",
    "RngState",
    "SolveTracker",
    "TrainingDiverged",
]
