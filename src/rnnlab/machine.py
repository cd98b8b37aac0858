"""This machine's cores, and the rnnlab runs that share them.

A run with ``threads=auto`` leaves a file named by its process id in a per-user folder for as long as it trains
(``RNNLAB_RUN_REGISTRY`` names another folder). Every such run counts the files whose process is still alive and
takes its share of the cores: two trainings started side by side take one core each instead of both, which would
make their spin-waiting OpenMP threads tens of times slower, and a run left alone takes the cores back.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. under taskset or a container's CPU set)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _start_time(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot ('' where /proc does not say): tells a live run
    from a later process that was given a dead run's id."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 of proc(5); the name before ")" may hold spaces


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or another user's process holds the id: not our run
        return False
    return not started or _start_time(pid) in ("", started)


class RunRegistry:
    """The rnnlab trainings running on this machine: one file per process, removed when it stops training (or,
    after a kill, by the next run that finds its process gone)."""

    def __init__(self, folder: str | Path | None = None):
        default = Path(tempfile.gettempdir()) / f"rnnlab-runs-{os.getuid() if hasattr(os, 'getuid') else 0}"
        self.folder = Path(folder or os.environ.get("RNNLAB_RUN_REGISTRY") or default)

    @property
    def own_file(self) -> Path:
        return self.folder / str(os.getpid())

    def join(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.own_file.write_text(_start_time(os.getpid()))

    def leave(self) -> None:
        self.own_file.unlink(missing_ok=True)

    def others(self) -> int:
        """How many other registered runs are alive; forgets the dead ones."""
        live = 0
        if not self.folder.is_dir():
            return 0
        for path in self.folder.iterdir():
            if not path.name.isdigit() or int(path.name) == os.getpid():
                continue
            try:
                started = path.read_text()
            except OSError:  # removed between listing and reading
                continue
            if _alive(int(path.name), started):
                live += 1
            else:
                path.unlink(missing_ok=True)
        return live


def share(ceiling: int, others: int) -> int:
    """A run's threads beside ``others`` runs: its share of the cores, at most ``ceiling``, at least 1."""
    return max(1, min(ceiling, cores() // (others + 1)))
