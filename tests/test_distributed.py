"""The builder's units on datatrove's executors: the local one and Ray (a local cluster on
loopback) give the same shard bytes as ``build``; a finished task is skipped on a re-run."""

from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("datatrove", reason="pip install -e '.[distributed]'")

from simspine_dataset.build import BuildConfig, build
from simspine_dataset.distributed import run
from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

SETTINGS = CaptureSettings(
    subjects=("S1", "S9"),
    seconds=0.25,
    seed=11,
    actions=("Walking", "Eating"),
    videos=False,
    detections=False,
)
CONFIG = BuildConfig(check_videos=False, workers=2)


def digests(out) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("data/**/*.parquet"))
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    raw = generate_capture(tmp_path_factory.mktemp("raw"), SETTINGS)
    out = tmp_path_factory.mktemp("reference")
    build(raw, out, CONFIG)
    return raw, digests(out)


def test_datatrove_local_executor_matches_build(reference, tmp_path) -> None:
    raw, expected = reference
    report = run(raw, tmp_path / "out", CONFIG, "datatrove", tasks=3)
    assert digests(tmp_path / "out") == expected and expected
    assert all(e["status"] == "ok" for e in report["sequences"]) and len(report["sequences"]) == 8
    completions = sorted((tmp_path / "out").glob("work/*/logs/*/completions/*"))
    assert len(completions) == 3 + 3 + 1  # one marker per finished task
    marker = next((tmp_path / "out").glob("work/*/reports/S9/*.json"))
    marker.unlink()  # a unit's trace lost, but its task is marked done: datatrove skips the task
    run(raw, tmp_path / "out", CONFIG, "datatrove", tasks=3)
    assert not marker.exists() and digests(tmp_path / "out") == expected


def test_ray_executor_on_a_local_cluster_matches_build(reference, tmp_path) -> None:
    ray = pytest.importorskip("ray")
    raw, expected = reference
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = run(raw, tmp_path / "out", CONFIG, "ray", tasks=2)
    finally:
        ray.shutdown()
    assert digests(tmp_path / "out") == expected
    assert all(e["status"] == "ok" for e in report["sequences"])
