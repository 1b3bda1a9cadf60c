"""A build folder's ``build_report.json``: read and checked once for every command that reads it."""

from __future__ import annotations

import json
from pathlib import Path

from simspine_dataset.errors import SimspineError

REPORT = "build_report.json"
REQUIRED = ("config", "config_hash", "rows", "sequences")


def read_report(out: str | Path) -> dict:
    """The build report of ``out``; ``SimspineError`` naming the file when it is missing, not JSON,
    or not a build report (a mapping with ``REQUIRED`` keys)."""
    path = Path(out) / REPORT
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise SimspineError(f"{Path(out)}: not a build folder (no {REPORT})") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SimspineError(f"{path}: not readable as JSON ({e})") from e
    if not isinstance(report, dict) or any(key not in report for key in REQUIRED):
        raise SimspineError(f"{path}: not a build report (it needs {', '.join(REQUIRED)})")
    return report
