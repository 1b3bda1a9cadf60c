"""``simspine publish OUT --repo-id ORG/NAME``: a built folder onto the Hugging Face Hub.

With ``huggingface_hub.HfApi``: create the dataset repo (private, or gated with automatic approval,
as asked), upload the folder with ``upload_folder`` (files already on the Hub with the same content
are not sent again, so an interrupted publish is resumed by running it again; remote files under
``data/``, ``models/`` and ``figures/`` that the folder no longer has are deleted in the same
commit, so a re-publish of a smaller build leaves no stale shards), and tag the revision with the
build's config hash. The card is re-rendered first, its "how to load" naming the repo id. The
endpoint is ``HF_ENDPOINT`` (the Hub by default); the token is ``--token``, ``HF_TOKEN`` or the
cached login, and is never printed or logged.

Human3.6M's licence forbids redistributing its data: a folder holding frames or Human3.6M joint
coordinates (any build but ``--release public``) is refused for a public repo; publish it private
or gated, or build ``--release public`` (annotations only) for a public one.
"""

from __future__ import annotations

import json
from pathlib import Path

from simspine_dataset.errors import SimspineError

UPLOADED = ("README.md", "build_report.json", "data/**", "meta/**", "models/**", "figures/**")
REPLACED = ("data/**", "models/**", "figures/**")  # the build's content: what the folder lacks is deleted


class PublishRefusedError(SimspineError):
    """The folder may not go where it was asked to (licence) or is not a finished build."""


def check_release(out: Path, private: bool, gated: bool) -> dict:
    """The build report, after checking that ``out`` may be published as asked."""
    report_path = out / "build_report.json"
    if not report_path.is_file() or not (out / "README.md").is_file():
        raise PublishRefusedError(f"{out}: not a finished build (no build_report.json or README.md)")
    report = json.loads(report_path.read_text())
    if not (private or gated):
        restricted = []
        if any((out / "data" / "frames").glob("*/*.parquet")):
            restricted.append("video frames (data/frames)")
        if report.get("config", {}).get("release") != "public":
            restricted.append("Human3.6M joint coordinates (a --release full build)")
        if restricted:
            raise PublishRefusedError(
                f"{out} holds {' and '.join(restricted)}; Human3.6M's licence forbids redistributing "
                "them: publish with --private or --gated, or build with --release public"
            )
    return report


def publish(
    out: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    gated: bool = False,
    token: str | None = None,
    tag: str | None = None,
) -> dict:
    """Create or update ``repo_id`` with the folder; returns {"repo_url", "commit", "tag"}."""
    from huggingface_hub import HfApi

    out = Path(out)
    report = check_release(out, private, gated)
    from simspine_dataset.card import write_card

    write_card(out, location=repo_id)  # the card's "how to load" names the repo
    api = HfApi(token=token)
    repo_url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    if gated:
        api.update_repo_settings(repo_id, repo_type="dataset", gated="auto")
    commit = api.upload_folder(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=str(out),
        allow_patterns=list(UPLOADED),
        delete_patterns=list(REPLACED),  # remote shards the folder no longer has: gone in the same commit
        commit_message=f"simspine build {report.get('config_hash', '')}",
    )
    tag = tag or f"build-{report.get('config_hash', 'unknown')}"
    api.create_tag(repo_id, tag=tag, repo_type="dataset", revision=commit.oid, exist_ok=True)
    return {"repo_url": str(repo_url), "commit": commit.oid, "tag": tag}
