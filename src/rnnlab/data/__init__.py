"""Data: generated bit problems, the long-range cue task, real corpora (UD treebanks, sentence polarity),
and in-memory batching."""

from rnnlab.data.bits_datamodule import BitsDataModule
from rnnlab.data.long_range import LongRangeDataModule
from rnnlab.data.polarity import SentenceDataModule
from rnnlab.data.tagging import TaggingDataModule

__all__ = ["BitsDataModule", "LongRangeDataModule", "SentenceDataModule", "TaggingDataModule"]
