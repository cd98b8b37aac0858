"""The recurrent core: slide-equation cells, fused/loop backbones and the output heads."""

from rnnlab.models.backbone import CELLS, IMPLS, RecurrentBackbone
from rnnlab.models.cell import ElmanCell, GRUCell, LSTMCell
from rnnlab.models.heads import HEADS, TASK_HEADS, OutputLayer, RecurrentNet
from rnnlab.models.word_encoder import WordEncoder

__all__ = [
    "CELLS",
    "HEADS",
    "IMPLS",
    "TASK_HEADS",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "OutputLayer",
    "RecurrentBackbone",
    "RecurrentNet",
    "WordEncoder",
]
