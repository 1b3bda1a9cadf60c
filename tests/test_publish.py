"""``simspine publish`` against a stub of the Hub's HTTP API on loopback (``HF_ENDPOINT``): the real
huggingface_hub client, our command line in a subprocess, no mocks of our own functions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from hub_stub import HubStub

TOKEN = "hf_simspineSECRETtoken123"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A real (tiny, mocap-only) build: publish re-renders its card, so it must be one."""
    from simspine_dataset.build import BuildConfig, build
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    root = tmp_path_factory.mktemp("publish")
    settings = CaptureSettings(
        subjects=("S1", "S9"), seconds=0.25, seed=8, actions=("Walking",), videos=False, detections=False
    )
    raw = generate_capture(root / "raw", settings)
    build(raw, root / "build", BuildConfig(check_videos=False))
    return root / "build"


def _with_release(folder, copy, release: str):
    shutil.copytree(folder, copy)
    report = json.loads((copy / "build_report.json").read_text())
    report["config"]["release"] = release
    report["config_hash"] = f"{release}-build"
    (copy / "build_report.json").write_text(json.dumps(report))
    return copy


def _publish(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    env |= {"HF_ENDPOINT": endpoint, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1"}
    return subprocess.run(
        [sys.executable, "-m", "simspine_dataset", "-v", "publish", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_gated_publish_uploads_the_build_and_tags_it(folder) -> None:
    with HubStub() as hub:
        done = _publish(hub.endpoint, str(folder), "--repo-id", "lab/simspine", "--gated")
        assert done.returncode == 0, done.stderr
        repo = hub.repos["lab/simspine"]
        expected = {
            str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "work" not in p.parts
        }
        assert set(repo.files) == expected
        for path, data in repo.files.items():
            assert data == (folder / path).read_bytes(), path
        report = json.loads((folder / "build_report.json").read_text())
        assert repo.gated == "auto" and repo.tags == {f"build-{report['config_hash']}": repo.commits[-1]}
        assert 'load_dataset("lab/simspine")' in repo.files["README.md"].decode()  # the card names the repo
        assert hub.validated_cards and "config_name: default" in hub.validated_cards[0]
        assert all(a == f"Bearer {TOKEN}" for a in hub.authorizations) and hub.authorizations
        assert TOKEN not in done.stdout + done.stderr  # the token is never printed or logged
        again = _publish(hub.endpoint, str(folder), "--repo-id", "lab/simspine", "--gated")
        assert again.returncode == 0, again.stderr  # re-running (a resumed publish) is fine


def test_public_repo_is_refused_for_a_full_release(folder, tmp_path) -> None:
    with HubStub() as hub:
        done = _publish(hub.endpoint, str(folder), "--repo-id", "lab/public")
        assert done.returncode == 2 and "Human3.6M joint coordinates" in done.stderr
        assert hub.repos == {}  # refused before any request
        public = _with_release(folder, tmp_path / "public", "public")
        assert _publish(hub.endpoint, str(public), "--repo-id", "lab/public").returncode == 0
        assert not hub.repos["lab/public"].private
        frames = public / "data" / "frames" / "train"
        frames.mkdir(parents=True)
        (frames / "shard-00000.parquet").write_bytes(b"PAR1")
        done = _publish(hub.endpoint, str(public), "--repo-id", "lab/public")
        assert done.returncode == 2 and "video frames" in done.stderr


def test_republishing_a_smaller_build_removes_the_stale_shards(folder, tmp_path) -> None:
    """A rebuild with fewer shards (a split gone): the next publish deletes the remote files the
    folder no longer has, in the commit that uploads the rest."""
    with HubStub() as hub:
        assert _publish(hub.endpoint, str(folder), "--repo-id", "lab/s", "--gated").returncode == 0
        repo = hub.repos["lab/s"]
        assert any(p.startswith("data/default/train/") for p in repo.files)
        smaller = tmp_path / "smaller"
        shutil.copytree(folder, smaller)
        shutil.rmtree(smaller / "data" / "default" / "train")
        commits = len(repo.commits)
        done = _publish(hub.endpoint, str(smaller), "--repo-id", "lab/s", "--gated")
        assert done.returncode == 0, done.stderr
        assert not any(p.startswith("data/default/train/") for p in repo.files)
        assert any(p.startswith("data/default/test/") for p in repo.files)
        assert len(repo.commits) == commits + 1  # deletions ride the upload's commit
