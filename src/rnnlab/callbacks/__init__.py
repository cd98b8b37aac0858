"""Lightning callbacks of rnnlab: gradient flow through time, the non-finite guard, steps-to-solve, per-class
reports, generated samples, and TensorBoard's dashboards (HPARAMS, throughput, hidden states, bit samples, graph,
attention maps)."""

from rnnlab.callbacks.attention_maps import AttentionMaps
from rnnlab.callbacks.bit_samples import BitSamples
from rnnlab.callbacks.checkpoint import AtomicCheckpointIO, ResumableCheckpoint
from rnnlab.callbacks.class_report import ClassReport
from rnnlab.callbacks.gradient_flow import GradientFlowMonitor
from rnnlab.callbacks.graph_input import GraphInput
from rnnlab.callbacks.hidden_states import HiddenStateHeatmap
from rnnlab.callbacks.hparams import HParamsSession
from rnnlab.callbacks.nonfinite_guard import NonFiniteGuard
from rnnlab.callbacks.progress import ProgressBar
from rnnlab.callbacks.projector import EmbeddingProjector
from rnnlab.callbacks.resilience import InterruptHandler, RngState
from rnnlab.callbacks.run_log import ParameterSummary
from rnnlab.callbacks.samples import GeneratedSamples
from rnnlab.callbacks.solve_tracker import SolveTracker
from rnnlab.callbacks.throughput import Throughput
from rnnlab.callbacks.trajectories import StateTrajectories
from rnnlab.errors import TrainingDiverged

__all__ = [
    "AtomicCheckpointIO",
    "AttentionMaps",
    "BitSamples",
    "ClassReport",
    "EmbeddingProjector",
    "GeneratedSamples",
    "GradientFlowMonitor",
    "GraphInput",
    "HParamsSession",
    "HiddenStateHeatmap",
    "InterruptHandler",
    "NonFiniteGuard",
    "ParameterSummary",
    "ProgressBar",
    "ResumableCheckpoint",
    "RngState",
    "SolveTracker",
    "StateTrajectories",
    "Throughput",
    "TrainingDiverged",
]
