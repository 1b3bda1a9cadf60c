"""A build folder's record of itself, ``build_report.json``: written once by ``simspine build``
(``commands.build.finalize``), read through ``BuildRecord`` by every command that reads a build
(card, validate, export, publish, view, clean). ``build_file`` reads any file of a build folder or
of its published Hub repo; ``card_files`` what its card names (the files ``load_dataset`` reads).

The record carries a format version (``FORMAT_VERSION``): a folder written by another format is
refused in one line, never guessed at. Its settings are read back as the ``BuildConfig`` they were
(through ``config.from_mapping``), so a reader sees the config's own defaults and types, never
defaults of its own. Sequence entries stay mappings: their keys depend on their status (``ok``,
``flagged``, ``failed``, ``skipped``) and are documented where they are written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from simspine_dataset.config import BuildConfig, from_mapping
from simspine_dataset.errors import SimspineError
from simspine_dataset.schema import BUILT_STATUSES

REPORT = "build_report.json"
FORMAT_VERSION = 2  # 1: reports before the version was written (not read: rebuild)
STATS = "meta/stats.json"  # per split, what trainers normalise by (``stages.shards.SplitStats``),
# with the shards it was measured over: ``loader.dataset_stats`` checks them against the card
STATS_VERSION = 1


@dataclass(frozen=True)
class BuildRecord:
    """What ``simspine build`` made, with which settings, and from what."""

    config: BuildConfig
    config_hash: str  # ``commands.build.settings_digest``: names the work tree of these settings
    rows: dict[str, int]  # default config, per split
    sequences: list[dict]  # one entry per sequence: status, units, flags, error
    frames_rows: dict[str, int] = field(default_factory=dict)  # frames config, per split
    files: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # config -> split -> shards
    versions: dict[str, str] = field(default_factory=dict)  # the packages that made it
    ik_inputs_left_out: list[str] = field(default_factory=list)  # a user model's unmapped joints
    annotations: dict | None = None  # with --annotations: the release's files and what was left out
    short_videos: list[str] = field(default_factory=list)
    known_problems: list[str] = field(default_factory=list)
    detections: dict | None = None  # with --detections: the folder and what it lacks
    format_version: int = FORMAT_VERSION

    @property
    def built(self) -> list[dict]:
        """The entries of sequences whose rows are in the dataset."""
        return [e for e in self.sequences if e["status"] in BUILT_STATUSES]

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "config": asdict(self.config)}, indent=1, default=str)


def build_file(location: str | Path, name: str) -> Path:
    """The file ``name`` (e.g. ``meta/stats.json``) of a build folder, or of a dataset repo on the
    Hub (downloaded by ``huggingface_hub``, cached); ``SimspineError`` naming it when absent."""
    if Path(location).is_dir():
        path = Path(location) / name
        if not path.is_file():
            what = "not a build folder" if name == REPORT else "a build folder"
            raise SimspineError(f"{Path(location)}: {what} without {name}")
        return path
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(hf_hub_download(str(location), name, repo_type="dataset"))
    except (EntryNotFoundError, RepositoryNotFoundError) as e:
        raise SimspineError(f"{location}: no {name} in this dataset repo ({type(e).__name__})") from e


def read_json(location: str | Path, name: str) -> object:
    """A JSON file of a build folder or Hub repo (``build_file``); ``SimspineError`` naming it when
    it is not JSON."""
    path = build_file(location, name)
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SimspineError(f"{path}: not readable as JSON ({e})") from e


def read_record(location: str | Path) -> BuildRecord:
    """The record of a build folder or of its Hub repo; ``SimspineError`` in one line naming the
    file when it is missing, not JSON, of another format version, or not a build record."""
    return record_from_json(read_json(location, REPORT), Path(location) / REPORT)


def card_files(out: Path) -> dict[str, dict[str, list[Path]]]:
    """The shards the card's YAML names, per config and split (what ``load_dataset`` reads);
    ``SimspineError`` naming README.md when it is missing or its YAML cannot be read."""
    import yaml
    from huggingface_hub import DatasetCard

    path = Path(out) / "README.md"
    try:
        configs = DatasetCard.load(path).data.to_dict().get("configs") or []
        return {
            c["config_name"]: {
                f["split"]: [Path(out) / p for p in _as_list(f["path"])] for f in c["data_files"]
            }
            for c in configs
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as e:
        raise SimspineError(f"{path}: not a readable dataset card ({type(e).__name__}: {e})") from e


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def record_from_json(data: object, path: str | Path) -> BuildRecord:
    """A build record from the JSON of ``path`` (a file of a build folder or of a Hub repo)."""
    if not isinstance(data, dict):
        raise SimspineError(f"{path}: not a build record (a JSON object is expected)")
    version = data.get("format_version", 1)
    if version != FORMAT_VERSION:
        raise SimspineError(
            f"{path}: build format version {version}; this simspine-dataset reads version "
            f"{FORMAT_VERSION}: rebuild it with this version's `simspine build` (finished units are reused "
            "where their settings still apply; a Hub repo: publish the rebuilt folder again)"
        )
    if missing := [k for k in ("config", "config_hash", "rows", "sequences") if k not in data]:
        raise SimspineError(f"{path}: not a build record (it lacks {', '.join(missing)})")
    known = {f.name for f in fields(BuildRecord)}
    try:
        config = from_mapping(BuildConfig, data["config"], str(path), "config.")
    except ValueError as e:
        raise SimspineError(str(e)) from e
    return BuildRecord(**{**{k: v for k, v in data.items() if k in known}, "config": config})
