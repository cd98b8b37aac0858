"""Hydra multiruns: what a job does when it fails (jobs), and the summary of a finished sweep (summary)."""
