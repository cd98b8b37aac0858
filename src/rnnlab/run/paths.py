"""Where the checkout's configuration lives (a module of its own: the config checks and the schema both need it)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CONFIG_DIR = PROJECT_ROOT / "conf"
if not (CONFIG_DIR / "train.yaml").is_file():
    raise ImportError(f"rnnlab's configs are not at {CONFIG_DIR}; install the checkout with `pip install -e .`")
