"""``simspine publish OUT --repo-id ORG/NAME``: a built folder onto the Hugging Face Hub.

With ``huggingface_hub.HfApi``: create the dataset repo (private, or gated with automatic approval,
as asked) and make one commit (``create_commit``) holding exactly what the build is: the card,
rendered for the repo id (the local card is left as it is), the build report, ``meta/``, the
figures, the scaled models of the subjects built, and the shards the card names; remote files under
``data/``, ``meta/``, ``models/`` and ``figures/`` that are not part of it are deleted in the same
commit. Nothing else under the folder is ever sent: not the work folder, not a file that no card
names (a killed build's leftovers). Files already on the Hub with the same content are not sent
again, so an interrupted publish is resumed by running it again. The revision is tagged with the
build's config hash. The endpoint is ``HF_ENDPOINT`` (the Hub by default); the token is ``--token``,
``HF_TOKEN`` or the cached login, and is never printed or logged.

Before any request, the folder is checked (``check_release``): the card and the report name the
same shards and each one's bytes hash to the digest in its name. Human3.6M's licence forbids
redistributing its data, so for a public repo the build must be ``--release public``, the card must
name no ``frames`` config, and every named shard is read: the keypoints a public release hides
(``shards.PUBLIC_HIDDEN``) must be NaN and not visible in every row. Any disagreement refuses the
publish, naming what was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.errors import SimspineError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from simspine_dataset.record import BuildRecord

PRUNED = ("data/", "meta/", "models/", "figures/")  # remote folders holding only what the build has


class PublishRefusedError(SimspineError):
    """The folder may not go where it was asked to (licence) or is not a finished, intact build."""


def check_release(out: Path, private: bool, gated: bool) -> dict:
    """The build report, after checking that ``out`` is an intact build that may be published as
    asked (see the module's docstring)."""
    from simspine_dataset.commands.validate import files_check
    from simspine_dataset.record import card_files, read_record
    from simspine_dataset.stages.shards import build_shards

    if not (out / "README.md").is_file():
        raise PublishRefusedError(f"{out}: not a finished build (no README.md)")
    report = read_record(out)
    files = {config: build_shards(out, report, config) for config in ("default", "frames")}
    named = card_files(out)
    verdict, _ = files_check(out, named, files)
    if not verdict.ok:
        raise PublishRefusedError(f"{out}: {verdict.detail}")
    if not (private or gated):
        _check_public(out, report, named)
    return report


def _check_public(out: Path, report: BuildRecord, named: dict[str, dict[str, list[Path]]]) -> None:
    """A public repo gets annotations only: refused unless the build is a public release, names no
    frames, and every named shard hides what a public release hides."""
    restricted = []
    if named.get("frames"):
        restricted.append("video frames (a frames config)")
    if report.config.release != "public":
        restricted.append("Human3.6M joint coordinates (a --release full build)")
    shards = [p for splits in named.values() for paths in splits.values() for p in paths]
    leaking = [p for p in shards if p.is_file() and not _hides_licensed_keypoints(p)]
    if leaking:
        restricted.append(f"Human3.6M-derived keypoint values in {leaking[0].relative_to(out)}")
    if restricted:
        raise PublishRefusedError(
            f"refused: {out} holds {' and '.join(restricted)}; Human3.6M's licence forbids "
            "redistributing them: publish with --private or --gated, or build with --release public"
        )


def _hides_licensed_keypoints(shard: Path) -> bool:
    """Every row of a ``default`` shard has the public release's hidden keypoints NaN, not visible."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Features

    from simspine_dataset.loader import column_to_numpy
    from simspine_dataset.stages.shards import KEYPOINT_COLUMNS, PUBLIC_HIDDEN

    parquet = pq.ParquetFile(shard)
    features = Features.from_arrow_schema(parquet.schema_arrow)
    if "image" in features:
        return False
    hidden = list(PUBLIC_HIDDEN)
    for batch in parquet.iter_batches(columns=[*KEYPOINT_COLUMNS, "keypoints_visible"]):
        columns = {name: batch.column(name) for name in batch.schema.names}
        for name, column in columns.items():
            values = column_to_numpy(pa.chunked_array([column]), features[name])
            if name == "keypoints_visible" and values[:, hidden].any():
                return False
            if name != "keypoints_visible" and not np.isnan(values[:, hidden]).all():
                return False
    return True


def upload_plan(out: Path, report: BuildRecord) -> list[str]:
    """The folder's files a publish sends (paths relative to ``out``), the card aside."""
    from simspine_dataset.stages.shards import build_shards

    subjects = {e["subject"] for e in report.built}
    files = ["build_report.json"]
    files += sorted(p.relative_to(out).as_posix() for p in (out / "meta").glob("*.json"))
    files += sorted(p.relative_to(out).as_posix() for p in (out / "figures").glob("*.png"))
    files += [f"models/{s}.osim" for s in sorted(subjects) if (out / "models" / f"{s}.osim").is_file()]
    for config in ("default", "frames"):
        for paths in build_shards(out, report, config).values():
            files += [p.relative_to(out).as_posix() for p in paths]
    return files


def publish(
    out: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    gated: bool = False,
    token: str | None = None,
    tag: str | None = None,
) -> dict:
    """Create or update ``repo_id`` with the folder; returns {"repo_url", "commit", "tag", "files"}."""
    from huggingface_hub import HfApi

    from simspine_dataset.commands.card import render_card

    out = Path(out)
    report = check_release(out, private, gated)
    card = render_card(out, location=repo_id).encode()  # the card's "how to load" names the repo
    files = upload_plan(out, report)
    try:
        return _send(HfApi(token=token), out, repo_id, private, gated, tag, report, card, files)
    except _http_errors() as e:  # an unreachable endpoint, a refused token: one line, the folder as it was
        from huggingface_hub import constants

        raise SimspineError(
            f"{constants.ENDPOINT}: publishing {repo_id} failed ({type(e).__name__}: {e})"
        ) from e


def _http_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's base error that huggingface_hub raises through (its ``HfHubHTTPError``
    derives from it; connection errors are of it too)."""
    from huggingface_hub.errors import HfHubHTTPError

    return (HfHubHTTPError, *(c for c in HfHubHTTPError.__mro__[1:] if c.__name__ == "HTTPError"))


def _send(
    api: HfApi,
    out: Path,
    repo_id: str,
    private: bool,
    gated: bool,
    tag: str | None,
    report: BuildRecord,
    card: bytes,
    files: list[str],
) -> dict:
    """The repo, its settings, one commit of the card and ``files``, and the tag."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    repo_url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    if gated:
        api.update_repo_settings(repo_id, repo_type="dataset", gated="auto")
    sent = {"README.md", *files}
    remote = api.list_repo_files(repo_id, repo_type="dataset")
    operations = [
        CommitOperationAdd("README.md", card),
        *(CommitOperationAdd(path, str(out / path)) for path in files),
        *(CommitOperationDelete(path) for path in remote if path.startswith(PRUNED) and path not in sent),
    ]
    commit = api.create_commit(
        repo_id,
        operations,
        repo_type="dataset",
        commit_message=f"simspine build {report.config_hash}",
    )
    tag = tag or f"build-{report.config_hash}"
    api.create_tag(repo_id, tag=tag, repo_type="dataset", revision=commit.oid, exist_ok=True)
    return {"repo_url": str(repo_url), "commit": commit.oid, "tag": tag, "files": len(sent)}
