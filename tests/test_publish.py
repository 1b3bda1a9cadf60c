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
    from simspine_dataset.commands.build import BuildConfig, build
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
            if path != "README.md":  # the card is rendered for the repo; the local one is left as it is
                assert data == (folder / path).read_bytes(), path
        assert 'load_dataset("lab/simspine")' not in (folder / "README.md").read_text()
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
        faked = _with_release(folder, tmp_path / "faked", "public")  # a report that lies: full shards
        done = _publish(hub.endpoint, str(faked), "--repo-id", "lab/public")
        assert done.returncode == 2 and "Human3.6M-derived keypoint values" in done.stderr
        assert hub.repos == {}


def test_republishing_a_smaller_build_removes_the_stale_shards(folder, tmp_path) -> None:
    """A rebuild with fewer shards (a split gone): the next publish deletes the remote files the
    folder no longer has, in the commit that uploads the rest."""
    with HubStub() as hub:
        assert _publish(hub.endpoint, str(folder), "--repo-id", "lab/s", "--gated").returncode == 0
        repo = hub.repos["lab/s"]
        assert any(p.startswith("data/default/train/") for p in repo.files)
        smaller = tmp_path / "smaller"
        shutil.copytree(folder, smaller)
        from simspine_dataset.commands.build import BuildConfig, build

        build(folder.parent / "raw", smaller, BuildConfig(subjects=("S9",), check_videos=False))
        commits = len(repo.commits)
        done = _publish(hub.endpoint, str(smaller), "--repo-id", "lab/s", "--gated")
        assert done.returncode == 0, done.stderr
        assert not any(p.startswith("data/default/train/") for p in repo.files)
        assert any(p.startswith("data/default/test/") for p in repo.files)
        assert len(repo.commits) == commits + 1  # deletions ride the upload's commit


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    settings = CaptureSettings(
        subjects=("S1",), seconds=0.25, seed=9, actions=("Walking",), videos=True, detections=False
    )
    return generate_capture(tmp_path_factory.mktemp("publish_capture") / "raw", settings)


def _uploaded(repo) -> set[str]:
    return set(repo.files)


def _killed_build(capture, out, *args: str, when: str) -> None:
    """``simspine build`` in a subprocess, SIGKILLed at the first moment ``when`` holds (polled)."""
    import signal
    import time

    from simspine_dataset.cli import main  # noqa: F401 - the command's module must import

    code = (
        "import sys, time; from simspine_dataset.stages import shards\n"
        "add = shards.ShardWriter.add\n"
        "shards.ShardWriter.add = lambda self, t: (time.sleep(0.3), add(self, t))[1]\n"
        "from simspine_dataset.cli import main; sys.exit(main(sys.argv[1:]))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, "build", str(capture), str(out), *args])
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if eval(when, {"out": out}):  # a test's own condition
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()


def test_a_killed_rebuild_never_leaks_licensed_data_to_a_public_repo(capture, tmp_path) -> None:
    """A public build, then a full rebuild with frames killed while it writes its shards: the
    folder's card and report still say public and name the public shards; full shards and JPEG
    crops lie beside them (49caca7 uploaded both: 90,504 keypoint values and 172 JPEGs). Publish
    sends only what the card names, after reading it: the full shards and frames are never sent."""
    from simspine_dataset.cli import main

    out = tmp_path / "out"
    assert main(["build", str(capture), str(out), "--release", "public"]) == 0
    public_files = {p.relative_to(out).as_posix() for p in out.glob("data/**/*.parquet")}
    _killed_build(capture, out, "--frames", "crop", when="any(out.glob('data/frames/*/shard-*.parquet'))")
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*.parquet") if "work" not in p.parts}
    assert on_disk - public_files, "the kill left the full build's shards beside the public ones"
    with HubStub() as hub:
        done = _publish(hub.endpoint, str(out), "--repo-id", "lab/public")
        assert done.returncode == 0, done.stderr
        sent = {p for p in _uploaded(hub.repos["lab/public"]) if p.endswith(".parquet")}
        assert sent == public_files
    assert main(["build", str(capture), str(out), "--release", "public"]) == 0  # the re-run cleans up
    assert {p.relative_to(out).as_posix() for p in out.glob("data/**/*")} == public_files | {
        "data/default",
        "data/default/train",
    }


def test_leftovers_of_an_old_killed_build_are_removed_and_never_published(capture, tmp_path) -> None:
    """The staging and ``.old`` folders a killed 49caca7 build left (frames staging with JPEGs, a
    half-removed ``.default.old``): the next build removes them, and publish would never send them."""
    from simspine_dataset.cli import main

    out = tmp_path / "out"
    assert main(["build", str(capture), str(out), "--release", "public"]) == 0
    shard = next(out.glob("data/default/train/*.parquet"))
    for leftover in ("data/.frames.staging123/train", "data/.default.old456/train"):
        (out / leftover).mkdir(parents=True)
        shutil.copy(shard, out / leftover / "shard-00000-000000000000.parquet")
    with HubStub() as hub:
        assert _publish(hub.endpoint, str(out), "--repo-id", "lab/p").returncode == 0
        assert not any("staging" in p or ".old" in p for p in _uploaded(hub.repos["lab/p"]))
    assert main(["build", str(capture), str(out), "--release", "public"]) == 0
    assert not list(out.glob("data/.*"))


def test_a_card_that_names_a_changed_shard_is_refused(folder, tmp_path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    shard = next(copy.glob("data/default/test/*.parquet"))
    data = bytearray(shard.read_bytes())
    data[100:110] = b"\0" * 10
    shard.write_bytes(bytes(data))
    with HubStub() as hub:
        done = _publish(hub.endpoint, str(copy), "--repo-id", "lab/x", "--gated")
        assert done.returncode == 2 and "do not hash to the digest in its name" in done.stderr
        assert hub.repos == {}
