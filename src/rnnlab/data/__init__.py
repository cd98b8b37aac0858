"""Data: generated bit problems, the long-range cue task, and in-memory batching."""

from rnnlab.data.bits_datamodule import BitsDataModule
from rnnlab.data.long_range import LongRangeDataModule

__all__ = ["BitsDataModule", "LongRangeDataModule"]
