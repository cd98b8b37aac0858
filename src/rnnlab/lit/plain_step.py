"""An optimizer step under manual optimization without Lightning's per-step wrappers, where they do nothing.

Lightning routes every ``manual_backward`` and ``optimizer.step()`` through its strategy, its precision plugin and
its optimizer wrapper, and every hook through a loop over all callbacks inside a profiler context. With 32-bit
precision on one device and no profiler, all of that comes down to the hooks the callbacks override, the backward
pass, the module's own hooks and the optimizer's step, in that order: :class:`PlainStep` does exactly that and
nothing else, counting the step as Lightning does (``trainer.global_step``). What it saves:
``python scripts/bench.py --only overhead``; where the time went: ``python scripts/profile_step.py``
(docs/performance.md). Any other configuration (mixed or double precision, DDP or another strategy, a profiler)
keeps Lightning's path.
"""

from __future__ import annotations

from functools import partial

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.strategies import SingleDeviceStrategy
from torch import Tensor

HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class PlainStep:
    """The backward pass and the optimizer step of ``module`` (a manual-optimization LightningModule being fitted
    by ``trainer``), as :meth:`~rnnlab.lit.base.RecurrentModule.optimize` takes them."""

    @staticmethod
    def applies(trainer: L.Trainer) -> bool:
        """Whether Lightning's wrappers do nothing here but call hooks: exactly 32-bit precision (not a
        subclass), one device, no profiler."""
        return (
            type(trainer.precision_plugin) is Precision
            and type(trainer.strategy) is SingleDeviceStrategy
            and isinstance(trainer.profiler, PassThroughProfiler)
        )

    def __init__(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.trainer, self.module = trainer, module
        self.optimizer = module.optimizers(use_pl_optimizer=False)
        self.progress = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
        # Per hook, what overrides it: the callbacks in the trainer's order, then the module. A hook nobody
        # overrides is skipped (Lightning would call its empty default).
        self.hooks: dict[str, list] = {}
        for hook in HOOKS:
            calls = [partial(getattr(c, hook), trainer, module) for c in trainer.callbacks if overrides(c, hook)]
            if getattr(type(module), hook) is not getattr(L.LightningModule, hook):
                calls.append(getattr(module, hook))
            self.hooks[hook] = calls

    def _hook(self, name: str, *args) -> None:
        """With the module's current hook name set as Lightning sets it (its ``self.log`` checks where it is
        called from)."""
        if not (calls := self.hooks[name]):
            return
        # Through __dict__: nn.Module.__setattr__'s checks for parameters and submodules cost more than the name.
        names = self.module.__dict__
        previous, names["_current_fx_name"] = names["_current_fx_name"], name
        for call in calls:
            call(*args)
        names["_current_fx_name"] = previous

    def backward(self, loss: Tensor) -> None:
        self._hook("on_before_backward", loss)
        self.module.backward(loss)
        self._hook("on_after_backward")

    def step(self) -> None:
        self.progress.increment_ready()
        self._hook("on_before_optimizer_step", self.optimizer)
        self.optimizer.step()
        self.progress.increment_completed()
