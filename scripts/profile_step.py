"""Profile rnnlab's training path: python scripts/profile_step.py [--batch-size 32] [--top 25] (see
rnnlab/bench/profile_step.py)."""

import argparse
import logging
import warnings

from rnnlab.bench.profile_step import __doc__ as about
from rnnlab.bench.profile_step import profile, report

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=about, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequences", type=int, default=8192)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("rnnlab").setLevel(logging.WARNING)
    print(report(profile(args.batch_size, args.sequences), args.top))
