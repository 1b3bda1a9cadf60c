"""The package's layers, read from the import statements of its source (STYLE.md, conventions 1
and 8): the library never imports the baselines; only ``biomech`` imports opensim; ``geometry`` is
pure numpy over the project's facts; ``io`` holds formats and imports no pipeline stage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "simspine_dataset"
STAGES = {
    "build",
    "capture",
    "views",
    "frames",
    "shards",
    "pseudo_markers",
    "detect",
    "annotations",
    "export",
    "publish",
    "card",
    "validate",
    "demo",
    "cli",
    "distributed",
}


def _imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative imports resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module if not node.level else f"simspine_dataset.{node.module}")
    return names


SOURCES = {str(p.relative_to(PACKAGE.parent)): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _offenders(files: dict[str, set[str]], forbidden) -> list[str]:
    return [f"{path}: {name}" for path, names in files.items() for name in sorted(names) if forbidden(name)]


def test_the_library_never_imports_the_baselines() -> None:
    assert not _offenders(SOURCES, lambda n: n == "baselines" or n.startswith("baselines."))


def test_only_biomech_imports_opensim() -> None:
    outside = {p: n for p, n in SOURCES.items() if not p.startswith("simspine_dataset/biomech/")}
    assert not _offenders(outside, lambda n: n == "opensim" or n.startswith("opensim."))


@pytest.mark.parametrize(
    ("folder", "allowed"),
    [
        ("geometry", ("simspine_dataset.geometry", "simspine_dataset.errors", "simspine_dataset.h36m")),
        (
            "io",
            (
                "simspine_dataset.io",
                "simspine_dataset.errors",
                "simspine_dataset.h36m",
                "simspine_dataset.geometry.camera",
            ),
        ),
    ],
)
def test_lower_layers_import_only_lower_layers(folder: str, allowed: tuple[str, ...]) -> None:
    files = {p: n for p, n in SOURCES.items() if p.startswith(f"simspine_dataset/{folder}/")}
    assert files
    assert not _offenders(
        files,
        lambda n: n.startswith("simspine_dataset") and not n.startswith(allowed) and n != "simspine_dataset",
    )


def test_no_stage_module_is_imported_by_a_lower_layer() -> None:
    lower = {
        p: n for p, n in SOURCES.items() if p.split("/")[1] in ("geometry", "io", "biomech", "synthetic")
    }
    stages = {f"simspine_dataset.{s}" for s in STAGES} - {
        "simspine_dataset.capture"
    }  # synthetic writes captures
    assert not _offenders(lower, lambda n: n in stages)
