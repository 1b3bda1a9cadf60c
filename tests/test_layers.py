"""The package's layers, read from the import statements of its source (every import, those inside
functions too; STYLE.md, conventions 1 and 8).

From the bottom: the facts (``errors``, ``h36m``, ``skeleton``), geometry and formats (``geometry``,
``io``), the records built on them (``schema``, ``config``, ``metrics``, ``loader``, ``pose_models``), the
biomechanics (``biomech``), the synthetic capture (``synthetic``), the pipeline's stages
(``stages``), the commands that run and ship them (``commands``), and the command line (``cli``). A
module imports its own layer or lower ones, never a higher one, and no set of modules imports
itself in a circle. Only ``biomech`` imports opensim; the library never imports the baselines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "simspine_dataset"
LAYERS = (
    ("simspine_dataset.errors", "simspine_dataset.h36m", "simspine_dataset.skeleton"),
    ("simspine_dataset.geometry", "simspine_dataset.io", "simspine_dataset"),
    (
        "simspine_dataset.schema",
        "simspine_dataset.config",
        "simspine_dataset.record",
        "simspine_dataset.metrics",
        "simspine_dataset.loader",
        "simspine_dataset.pose_models",
    ),
    ("simspine_dataset.biomech",),
    ("simspine_dataset.synthetic",),
    ("simspine_dataset.stages",),
    ("simspine_dataset.commands",),
    ("simspine_dataset.cli", "simspine_dataset.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, here: str | None = None) -> set[str]:
    """Every module a file imports: absolute names, relative imports resolved, and ``from
    package import module`` read as the module (``from simspine_dataset.commands import build``
    imports ``simspine_dataset.commands.build``)."""
    here = here or module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(filter(None, (base, node.module)))
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                is_module = _path_of(candidate) is not None
                names.add(candidate if is_module else module)
    return names


def _path_of(module: str) -> Path | None:
    if not module.startswith("simspine_dataset."):
        return None
    base = PACKAGE.parent.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def layer(module: str) -> int:
    """The layer of a package module: its longest matching prefix among ``LAYERS``."""
    best = max(
        ((len(prefix), rank) for rank, group in enumerate(LAYERS) for prefix in group
         if module == prefix or (module.startswith(prefix + ".") and prefix != "simspine_dataset")),
        default=None,
    )  # fmt: skip
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best[1]


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Package module -> the package modules it imports."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        here = module_name(path)
        out[here] = {n for n in imports(path) if n.startswith("simspine_dataset") and n != here}
    return out


GRAPH = graph()


def upward(edges: dict[str, set[str]]) -> list[str]:
    return [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
            for a, bs in edges.items() for b in sorted(bs) if layer(b) > layer(a)]  # fmt: skip


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_belongs_to_a_layer_and_imports_none_above_it() -> None:
    assert not upward(GRAPH)


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert not circles(GRAPH)


def test_the_checks_see_a_planted_upward_import_and_a_planted_circle(tmp_path) -> None:
    """The rules above catch what they claim: ``from package import module`` inside a function of a
    lower layer, and a circle through a function-level import."""
    planted = dict(GRAPH)
    source = tmp_path / "cdf.py"
    source.write_text(
        (PACKAGE / "io" / "cdf.py").read_text() + "\n\ndef f():\n    from ..commands import build\n"
    )
    found = imports(source, "simspine_dataset.io.cdf")
    planted["simspine_dataset.io.cdf"] = {n for n in found if n.startswith("simspine_dataset")}
    assert "simspine_dataset.commands.build" in planted["simspine_dataset.io.cdf"]
    assert upward(planted) == [
        "simspine_dataset.io.cdf (layer 1) imports simspine_dataset.commands.build (layer 6)"
    ]
    planted = dict(GRAPH)
    planted["simspine_dataset.stages.views"] = GRAPH["simspine_dataset.stages.views"] | {
        "simspine_dataset.stages.shards"
    }
    planted["simspine_dataset.stages.shards"] = {"simspine_dataset.stages.views"}
    assert ["simspine_dataset.stages.shards", "simspine_dataset.stages.views"] in circles(planted)


def test_the_library_never_imports_the_baselines() -> None:
    offenders = [
        p.name for p in PACKAGE.rglob("*.py") if any(n.split(".")[0] == "baselines" for n in imports(p))
    ]
    assert not offenders


def test_only_biomech_imports_opensim() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "opensim" in {n.split(".")[0] for n in imports(p)} and p.parent.name != "biomech"
    ]
    assert not offenders


@pytest.mark.parametrize("folder", ["stages", "commands"])
def test_the_tree_shows_the_stages_and_the_commands_apart(folder: str) -> None:
    """The file tree is the data flow: every stage module under ``stages/``, every command under
    ``commands/``, none left at the package's top level."""
    top = {p.stem for p in PACKAGE.glob("*.py")}
    moved = {p.stem for p in (PACKAGE / folder).glob("*.py")} - {"__init__"}
    assert moved and not top & moved
