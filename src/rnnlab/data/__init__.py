"""Data: generated bit problems, the long-range cue task, the adding problem, dates to translate, real corpora (UD
treebanks, sentence polarity, any text for a character LM, scikit-learn's digits for captions), and in-memory
batching."""

from rnnlab.data.adding import ADDING_BASELINE_MSE, AddingDataModule
from rnnlab.data.bits_datamodule import BitsDataModule
from rnnlab.data.char_text import CharTextDataModule
from rnnlab.data.dates import DateTranslationDataModule
from rnnlab.data.digit_captions import DigitCaptionDataModule
from rnnlab.data.long_range import LongRangeDataModule
from rnnlab.data.polarity import SentenceDataModule
from rnnlab.data.tagging import TaggingDataModule

__all__ = [
    "ADDING_BASELINE_MSE",
    "AddingDataModule",
    "BitsDataModule",
    "CharTextDataModule",
    "DateTranslationDataModule",
    "DigitCaptionDataModule",
    "LongRangeDataModule",
    "SentenceDataModule",
    "TaggingDataModule",
]
