"""Data: generated bit problems and in-memory batching."""

from rnnlab.data.bits_datamodule import BitsDataModule

__all__ = ["BitsDataModule"]
