"""The builder's units on datatrove's executors: the local one and Ray (a local cluster on
loopback) give the same shard bytes as ``build``; a finished task is skipped on a re-run."""

from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("datatrove", reason="pip install -e '.[distributed]'")

from simspine_dataset.commands.build import BuildConfig, build
from simspine_dataset.commands.distributed import run
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
    assert all(e["status"] == "ok" for e in report.sequences) and len(report.sequences) == 8
    completions = sorted((tmp_path / "out").glob("work/*/logs/*/*/completions/*"))
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
    assert all(e["status"] == "ok" for e in report.sequences)


def test_slurm_chain_is_three_array_jobs(tmp_path) -> None:
    from simspine_dataset.commands.distributed import executors

    options = {"logging_dir": tmp_path / "logs", "partition": "cpu-long", "time": "2:00:00"}
    chain = executors("raw", tmp_path / "out", CONFIG, "slurm", tasks=16, **options)
    assert [job.pipeline[0].stage for job in chain] == ["scale", "sequences", "finalize"]
    assert [job.depends for job in chain] == [None, chain[0], chain[1]]  # each waits for the one before
    args = chain[1].get_sbatch_args(max_array=16)
    assert args["partition"] == "cpu-long" and args["time"] == "2:00:00" and args["array"].startswith("0-15")


def test_paper_settings_file_loads_and_matches_the_defaults_it_restates() -> None:
    from pathlib import Path

    from simspine_dataset.commands.build import BuildConfig
    from simspine_dataset.config import H36M_IK_WEIGHTS, PSEUDO_MARKER_WEIGHTS

    config = BuildConfig.from_toml(Path(__file__).parents[1] / "builder_scripts" / "paper.toml")
    assert config.simulation.ik.h36m_weights == H36M_IK_WEIGHTS  # the file restates one fact: no drift
    assert config.simulation.ik.pseudo_marker_weights == PSEUDO_MARKER_WEIGHTS
    assert config.simulation.merge.blend_detections == 0.2 and config.simulation.merge.reanchor_spine
    assert config.frames.mode == "crop" and config.test_subjects == ("S9", "S11")
    assert config.model == "simspine"  # the paper's own model defines the paper's labels


def test_settings_file_errors_name_the_file_and_the_key(tmp_path) -> None:
    from simspine_dataset.commands.build import BuildConfig

    bad = tmp_path / "bad.toml"
    bad.write_text("[simulation.ik]\nsolvr = 'batched'\n")
    with pytest.raises(ValueError, match=r"bad.toml: unknown setting\(s\) \['simulation.ik.solvr'\]"):
        BuildConfig.from_toml(bad)


def test_a_rerun_with_other_output_settings_is_not_skipped(reference, tmp_path) -> None:
    """datatrove's completion markers are keyed like the local units: a public release after a
    full one (same simulation settings) is built, not skipped as finished."""
    import numpy as np
    from datasets import load_dataset

    from simspine_dataset.stages.shards import PUBLIC_HIDDEN

    raw, _ = reference
    run(raw, tmp_path / "out", CONFIG, "datatrove", tasks=2)
    public = BuildConfig(check_videos=False, workers=2, release="public")
    report = run(raw, tmp_path / "out", public, "datatrove", tasks=2)
    assert report.config.release == "public"
    rows = load_dataset(str(tmp_path / "out"), split="test", download_mode="force_redownload").with_format(
        "numpy"
    )
    assert np.isnan(rows[:4]["keypoints_3d_world_mm"][:, list(PUBLIC_HIDDEN)]).all()


def test_slurm_submission_reports_job_ids_not_an_old_build(reference, tmp_path, monkeypatch) -> None:
    from datatrove.executor import SlurmPipelineExecutor

    raw, _ = reference
    out = tmp_path / "out"
    out.mkdir()
    (out / "build_report.json").write_text('{"rows": {"test": 1}, "sequences": []}')  # an earlier build

    def submit(self) -> None:  # sbatch is not here: record a job id as submission would
        if self.depends is not None:
            self.depends.run()
        self.job_id = f"job-{self.pipeline[0].stage}"

    monkeypatch.setattr(SlurmPipelineExecutor, "run", submit)
    report = run(raw, out, CONFIG, "slurm", tasks=2, partition="cpu", time="1:00:00")
    assert report == {"submitted": ["job-scale", "job-sequences", "job-finalize"]}


def test_a_missing_optional_dependency_fails_at_start_with_the_install_command(monkeypatch) -> None:
    import sys

    from simspine_dataset.commands.distributed import executor_class
    from simspine_dataset.errors import SimspineError

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(SimspineError, match=r'needs ray: pip install -e "\.\[distributed\]"'):
        executor_class("ray")
