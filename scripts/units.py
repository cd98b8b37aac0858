"""Interpretable units of a trained character LM: colour a text by chosen hidden units, rank units by how well they
track properties of the text (inside quotes or brackets, position in the line, start of a word, upper case):
python scripts/units.py ckpt_path=outputs/char_lm/train/<run>/checkpoints/last.ckpt state=cell units=[3,17]"""

import hydra
from omegaconf import DictConfig

from rnnlab.run.cli import exit_on_user_error, run_with_hints
from rnnlab.run.config import CONFIG_DIR, check_checkpoint
from rnnlab.run.schema import check


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="units")
def main(cfg: DictConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: also for the pyplot that TensorBoard's add_figure imports
    with exit_on_user_error():
        check(cfg)  # each value's kind and range; the model's settings come from the checkpoint
        check_checkpoint(cfg)  # before the slow imports: a wrong path answers at once
        from rnnlab.run.units import ranking_table, units

        report = units(cfg)
    print(f"Read {report.source}: the {report.what}.")
    if report.correlations or report.constant:
        print(f"Units ranked by |r|, Pearson's correlation with each property over the {len(report.text)} characters:")
        print(ranking_table(report, cfg.top))
    print(f"Drawn: units {report.rendered}")
    for path in report.files:
        print(f"Written:     {path}")


if __name__ == "__main__":
    run_with_hints(main, "units")
