"""Atomic writes: a file or a folder is written under a temporary name beside its target and
renamed when complete.

A crash (or SIGKILL) mid-write leaves the previous file or folder, or none, never a half-written
one (a folder's swap leaves, at worst, the complete old one under a hidden name that the next
``staging_folder`` removes).
"""

from __future__ import annotations

import glob
import shutil
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


def staging_folder(final: str | Path) -> Path:
    """A new empty folder beside ``final`` to write its next content into (``swap_in`` puts it in
    place); the staging folders of killed runs are removed first."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(glob.escape(f".{final.name}.tmp") + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.with_name(f".{final.name}.tmp{getpid()}")
    tmp.mkdir()
    return tmp


def swap_in(tmp: Path, final: str | Path) -> None:
    """Replace the folder ``final`` by the complete ``tmp`` (the older one is deleted only after)."""
    final = Path(final)
    old = final.with_name(f".{final.name}.tmp{getpid()}old")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
