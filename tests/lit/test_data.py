"""The data layer without Lightning, and the wrapper that serves it to the Trainer."""

from __future__ import annotations

import subprocess
import sys

import lightning as L
import pytest
import torch
from helpers import compose_config
from lightning.pytorch.utilities.model_helpers import is_overridden

from rnnlab.lit import FAMILIES
from rnnlab.lit.data import LightningData, task_data
from rnnlab.models import TASK_HEADS
from rnnlab.run.build import build_module
from rnnlab.run.datamodule import build_datamodule


def test_the_task_heads_are_those_the_families_train():
    assert tuple(head for family in FAMILIES for head in family.heads) == TASK_HEADS


def test_reading_and_checking_a_tasks_data_imports_no_lightning():
    # What scripts/show_data.py imports and runs, short of printing.
    code = (
        "import sys\n"
        "from rnnlab.run.config import CONFIG_DIR\n"
        "from hydra import compose, initialize_config_dir\n"
        "from rnnlab.run.schema import check\n"
        "from rnnlab.run.show_data import example_records\n"
        "with initialize_config_dir(str(CONFIG_DIR), version_base='1.3'):\n"
        "    cfg = compose('show_data', overrides=['task=translate', 'n=2'])\n"
        "check(cfg)\n"
        "assert len(example_records(cfg)) == 2\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'lightning', 'torchmetrics', 'scipy', 'sklearn'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("overfit", "shuffled"), [(0, True), (1, False)])
def test_the_wrapper_shuffles_unless_lightning_overfits(overfit, shuffled):
    data = build_datamodule(compose_config(overrides=["task=flip_stream"]))
    served = LightningData(data)
    trainer = L.Trainer(overfit_batches=overfit, logger=False, enable_progress_bar=False, enable_model_summary=False)
    served.trainer = trainer
    trainer.datamodule = served
    served.setup("fit")
    sampler = served.train_dataloader().sampler
    assert isinstance(sampler, torch.utils.data.SequentialSampler) is not shuffled
    assert task_data(trainer) is data


def test_batches_stay_where_they_are_on_a_cpu_and_move_elsewhere():
    cfg = compose_config(overrides=["task=flip_stream"])
    served = LightningData(build_datamodule(cfg))
    batch = [next(iter(served.data.val_dataloader()))]
    assert served.transfer_batch_to_device(batch, torch.device("cpu"), 0) is batch
    moved = served.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert {tensor.device.type for tensor in moved[0].values()} == {"meta"}
    # Lightning warns when a LightningModule overrides the hook while a data module is passed: none does.
    assert not is_overridden("transfer_batch_to_device", build_module(cfg))
