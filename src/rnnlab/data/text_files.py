"""Reading the user's text files: UTF-8 text only, with the file (and line) named in every complaint."""

from __future__ import annotations

from pathlib import Path

from rnnlab.errors import DataError


def read_text(path: str | Path, what: str = "text file") -> str:
    """The contents of a UTF-8 text file; missing, empty, binary or non-UTF-8 files raise :class:`DataError`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist")
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{what} {path} is empty")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DataError(f"{path}:{line}: holds a NUL byte; {what}s must be UTF-8 text, this looks binary")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: is not UTF-8 ({error.reason} at byte {error.start})") from None
