"""Shared behaviour of the scripts/ entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rnnlab.errors import RnnlabError


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """A mistake the user can fix (or a run that diverged) becomes one line on stderr and exit code 2, not a
    traceback."""
    try:
        yield
    except RnnlabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
