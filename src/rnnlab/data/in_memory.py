"""The data module shared by the generated tasks: splits made once, kept in memory as tensors.

A plain class with the hooks of Lightning's ``LightningDataModule`` (``setup``, ``*_dataloader``), so that reading
a task's data (``scripts/show_data.py``, the analyses) does not import Lightning; training hands it to the
Trainer in a :class:`~rnnlab.lit.data.LightningData`."""

from __future__ import annotations

from torch import Tensor
from torch.utils.data import DataLoader

from rnnlab.data.batches import EpochTensorBatches, RaggedBatches, tensor_loader
from rnnlab.data.splits import SPLITS
from rnnlab.errors import ConfigError


class InMemoryDataModule:
    """Subclasses say how to :meth:`generate` one split as a dict of tensors or a :class:`RaggedBatches` (a pure
    function of the split and their settings); this class caches the splits and serves them as
    shuffled-by-(seed, epoch) batches.

    Subclasses that set ``resample_train`` train on fresh examples every epoch: epoch e's are
    :meth:`generate_train_epoch` (e), epoch 0's the cached ``split("train")``. Being a pure function of the settings
    and e, they are the same in a resumed run, and on every DDP rank."""

    # Word-level subclasses: the training Vocabulary. Numeric inputs have none.
    vocab = None
    resample_train = False

    def __init__(
        self, batch_size: int = 32, eval_batch_size: int = 1024, seed: int = 0, batches_per_step: int = 1
    ) -> None:
        """``batches_per_step``: training batches per Lightning step, each its own optimizer step (see
        :class:`~rnnlab.data.batches.EpochBatchSampler`); evaluation batches come one at a time."""
        self.batch_size, self.eval_batch_size, self.seed = batch_size, eval_batch_size, seed
        self.batches_per_step = batches_per_step
        self._splits: dict[str, dict[str, Tensor] | RaggedBatches] = {}

    def generate(self, name: str) -> dict[str, Tensor] | RaggedBatches:
        raise NotImplementedError

    def generate_train_epoch(self, epoch: int) -> dict[str, Tensor]:
        """Epoch ``epoch``'s training examples where ``resample_train``, as many every epoch; epoch 0's equal
        ``generate("train")``."""
        raise NotImplementedError

    def has_split(self, name: str) -> bool:
        """Whether this data module can serve ``name`` (generated tasks always can)."""
        return name in SPLITS

    def split(self, name: str) -> dict[str, Tensor] | RaggedBatches:
        """All examples of one split (generated once, then cached)."""
        if name not in SPLITS:
            raise ConfigError(f"split must be one of {list(SPLITS)}, got {name!r}")
        if name not in self._splits:
            self._splits[name] = self.generate(name)
        return self._splits[name]

    def setup(self, stage: str | None = None) -> None:
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage, SPLITS)
        for name in needed:
            self.split(name)

    def train_dataloader(self, shuffle: bool = True) -> DataLoader:
        """``shuffle=False`` (``trainer.overfit_batches``, ``debug=overfit``): the same first batches every epoch,
        epoch 0's even where training examples are resampled."""
        train = self.split("train")
        if self.resample_train and shuffle:
            train = EpochTensorBatches(self.generate_train_epoch, first=train)
        return tensor_loader(train, self.batch_size, shuffle=shuffle, seed=self.seed, group=self.batches_per_step)

    def val_dataloader(self) -> DataLoader:
        return tensor_loader(self.split("val"), self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return tensor_loader(self.split("test"), self.eval_batch_size, shuffle=False)
