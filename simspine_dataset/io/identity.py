"""Identities of input and output files, for unit keys and content-addressed names.

- ``stat_fingerprint``: name, size and modification time of files (cheap: a changed input is a new
  unit without reading it);
- ``content_digest``: sha256 of a file's bytes (model weights, shards: the content itself).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path


def stat_fingerprint(paths: Iterable[str | Path], digits: int = 10) -> str:
    """Hash of the files' names, sizes and modification times (in the order given)."""
    stats = [(Path(p).name, Path(p).stat().st_size, Path(p).stat().st_mtime_ns) for p in paths]
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:digits]


def text_digest(text: str, digits: int = 10) -> str:
    """The first ``digits`` hex digits of the sha256 of a text (a key made of several fingerprints)."""
    return hashlib.sha256(text.encode()).hexdigest()[:digits]


def content_digest(path: str | Path, digits: int = 16) -> str:
    """The first ``digits`` hex digits of the sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:digits]
