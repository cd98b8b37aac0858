"""The LightningModules, one class per task family; :func:`family_of` finds the one that trains a ``task.head``.

A new family is one module file here (a :class:`~rnnlab.lit.base.RecurrentModule` subclass that declares what the
run layer asks of it), its entry in ``FAMILIES``, and its configs.
"""

from __future__ import annotations

from rnnlab.lit.base import RecurrentModule, TrainingSetup
from rnnlab.lit.classifier import SequenceClassifier
from rnnlab.lit.generator import SequenceGenerator
from rnnlab.lit.language_model import LanguageModel
from rnnlab.lit.regressor import SequenceRegressor
from rnnlab.models import TASK_HEADS
from rnnlab.models.heads import check_task_head

FAMILIES: tuple[type[RecurrentModule], ...] = (SequenceClassifier, SequenceRegressor, LanguageModel, SequenceGenerator)


def family_of(head: str) -> type[RecurrentModule]:
    """The family that trains ``task.head=head``."""
    for family in FAMILIES:
        if head in family.heads:
            return family
    check_task_head(head)  # an unknown head: one line naming the known ones
    raise AssertionError(f"TASK_HEADS lists task.head={head!r}, but no family trains it")


__all__ = [
    "FAMILIES",
    "TASK_HEADS",
    "LanguageModel",
    "RecurrentModule",
    "SequenceClassifier",
    "SequenceGenerator",
    "SequenceRegressor",
    "TrainingSetup",
    "family_of",
]
