"""Profile rnnlab's training path: python scripts/profile_step.py [--batch-size 32] [--top 25] [--split] (see
rnnlab/bench/profile_step.py)."""

import argparse
import logging
import warnings

from rnnlab.bench.profile_step import __doc__ as about
from rnnlab.bench.profile_step import profile, report, split, split_report

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=about, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequences", type=int, default=8192)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--split", action="store_true", help="split the epoch's time into its parts, no profiler")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("rnnlab").setLevel(logging.WARNING)
    if args.split:
        print(split_report(split(args.batch_size, args.sequences)))
    else:
        print(report(profile(args.batch_size, args.sequences), args.top))
