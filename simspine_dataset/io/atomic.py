"""Atomic file writes: write to a temporary name beside the target, rename when complete.

A crash (or SIGKILL) mid-write leaves the previous file, or none, never a half-written one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from os import getpid
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on normal exit it is renamed onto ``path``.

    The temporary name keeps the target's suffix (writers that infer the format from it work).
    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{getpid()}{path.suffix}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
