"""Fetching a missing corpus file from its official address, verified against a recorded SHA-256."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from rnnlab.errors import DataError

log = logging.getLogger("rnnlab")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, destination: Path, sha256: str, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``destination`` only if its SHA-256 matches; the file appears whole or not at all."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                file.write(chunk)
        actual = sha256_of(partial)
        if actual != sha256:
            raise DataError(f"{url} has SHA-256 {actual}, expected {sha256}; the download was discarded")
        os.replace(partial, destination)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return destination


def ensure_file(path: str | Path, key: str, source: dict | None = None) -> Path:
    """``path`` if it exists; else downloaded from ``source`` (``base_url`` + a ``sha256`` per file name) when
    that lists the file with a checksum, else a :class:`DataError` saying where the file should go and which key
    sets it (and, for a file listed without a checksum, its address)."""
    path = Path(path)
    if path.is_file():
        return path
    checksums = (source or {}).get("sha256") or {}
    if path.name not in checksums:
        raise DataError(f"{key}={path} does not exist; put the file there or point {key} at it")
    if not source.get("base_url"):
        raise DataError(f"{key}={path} does not exist and the download settings give no base_url")
    url = f"{source['base_url'].rstrip('/')}/{path.name}"
    if not checksums[path.name]:
        # Listed without a checksum (a treebank whose files could not be checked when it was added): never fetched
        # unchecked, but the user learns the pinned address.
        raise DataError(
            f"{key}={path} does not exist, and no SHA-256 is recorded for {path.name}, so it is not downloaded "
            f"unchecked; fetch {url} yourself and put it there, or record its SHA-256 under task.data.download.sha256"
        )
    log.info("%s is missing; downloading %s", path, url)
    try:
        return fetch(url, path, checksums[path.name])
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DataError(
            f"{key}={path} does not exist and downloading {url} failed ({reason}); without a network, "
            f"copy the file there (or set paths.data_dir / {key})"
        ) from None
