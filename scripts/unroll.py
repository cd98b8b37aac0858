"""Draw a trained RNN unrolled over T steps, check that it computes the RNN's outputs, draw its hidden states'
trajectories over test sequences (PCA), and log them to TensorBoard:
python scripts/unroll.py task=flip_stream model=rnn ckpt_path=outputs/.../checkpoints/last.ckpt steps=4"""

import sys
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig

from rnnlab.errors import ConfigError
from rnnlab.run.cli import exit_on_user_error, run_with_hints
from rnnlab.run.config import CONFIG_DIR, check_checkpoint, validate

# The two networks add the same terms in a different order: they agree to float32 rounding, not bit for bit.
TOLERANCE = 1e-5


def check_settings(cfg: DictConfig) -> None:
    from rnnlab.analysis.render import FORMATS

    if isinstance(cfg.steps, bool) or not isinstance(cfg.steps, int) or cfg.steps <= 0:
        raise ConfigError(f"steps={cfg.steps!r} must be a positive integer, e.g. steps=4")
    if isinstance(cfg.trajectories, bool) or not isinstance(cfg.trajectories, int) or cfg.trajectories < 0:
        raise ConfigError(f"trajectories={cfg.trajectories!r} must be a number of test sequences (0: none)")
    unknown = [fmt for fmt in cfg.formats if fmt not in FORMATS]
    if unknown:
        raise ConfigError(f"formats={list(cfg.formats)}: cannot write {unknown}; choose from {list(FORMATS)}")


def unroll_checkpoint(cfg: DictConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: also for the pyplot that TensorBoard's add_figure imports
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from rnnlab.analysis.render import draw_unrolled, save_figure
    from rnnlab.analysis.unroll import max_difference, unroll
    from rnnlab.run.unroll import load_net, sample_inputs, state_trajectories

    net = load_net(cfg)
    unrolled = unroll(net, cfg.steps)
    x, source = sample_inputs(cfg, cfg.steps)
    difference = max_difference(net, unrolled, x)
    if difference > TOLERANCE:
        sys.exit(f"error: the unrolled network's outputs differ from the RNN's by {difference:.3g} on {source}")
    print(f"The unrolled network (T={cfg.steps}) reproduces the RNN's outputs on {source}: max |Δ| = {difference:.1e}")

    output_dir = Path(cfg.paths.output_dir)
    figure = draw_unrolled(unrolled)
    pictures = save_figure(figure, output_dir / "unrolled", cfg.formats)
    # The states of test sequences over time on their principal plane (None: one step or padded sequences).
    trajectories = state_trajectories(cfg, net, cfg.trajectories) if cfg.trajectories else None
    if trajectories is not None:
        pictures += save_figure(trajectories[0], output_dir / "trajectories", cfg.formats)
        print(f"Trajectories: {trajectories[1]}")
    elif cfg.trajectories:
        print("No trajectories: the task's sequences have a single step, or padding")
    tensorboard = output_dir / "tensorboard"
    with SummaryWriter(str(tensorboard)) as writer, warnings.catch_warnings():
        # Tracing warns about forward's input-shape check, which holds for this x by construction.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        writer.add_figure("unrolled", figure)
        if trajectories is not None:
            writer.add_figure("state_trajectories", trajectories[0])
        writer.add_graph(unrolled, x)
    for picture in pictures:
        print(f"Picture:     {picture}")
    print(f"TensorBoard: {tensorboard} (the pictures and the unrolled graph)")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="unroll")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        check_settings(cfg)
        check_checkpoint(cfg)  # before the slow imports, as the settings below: a bad one answers at once
        validate(cfg)
        unroll_checkpoint(cfg)


if __name__ == "__main__":
    run_with_hints(main, "unroll")
