"""Subject scaling finds the generator's segment lengths the same way at any BLAS thread count, and
the gates stop a subject or a sequence whose fit is wrong (``biomech.scaling``, ``biomech.gates``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from simspine_dataset.biomech.gates import FLAG_SCALING, expected_residual_mm, frame_flags, gate
from simspine_dataset.biomech.model_table import model_spec
from simspine_dataset.biomech.pipeline import scale_from_mocap
from simspine_dataset.config import SimulationConfig
from simspine_dataset.skeleton import J
from simspine_dataset.stages.capture import discover, load_mocap
from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture, subject_factors


@pytest.fixture(scope="module")
def s11_seed11(tmp_path_factory):
    """The capture on which 49caca7's refinement left its distance estimate for another minimum
    (forearm -1 %, arm -2.2 %, torso -1.1 %, 31 mm residual with one BLAS thread; the issue's
    machine: -27 % forearm, 25 mm): S11, seed 11, 2 s takes of all 15 actions, 3 mm noise."""
    root = tmp_path_factory.mktemp("s11")
    settings = CaptureSettings(("S11",), 2.0, seed=11, mocap_noise_mm=3.0, videos=False, detections=False)
    generate_capture(root, settings)
    return [load_mocap(r).joints_world_mm for r in discover(root, check_videos=False).sequences]


@pytest.mark.slow
def test_scaling_finds_the_generators_factors_with_one_and_two_blas_threads(s11_seed11) -> None:
    true = subject_factors("S11", 11)
    results = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            results.append(scale_from_mocap("S11", s11_seed11, SimulationConfig(), model_spec()))
    for result in results:
        errors = {s: abs(f / true[s] - 1) for s, f in result.segment_factors.items()}
        assert max(errors.values()) < 0.01, errors  # 49caca7: 2.2 %
        assert result.marker_rmse_m * 1e3 < 4.0  # 3 mm noise per axis; 49caca7: 31 mm
        assert result.marker_rmse_m <= result.distance_marker_rmse_m  # never worse than distances
        assert result.gate(SimulationConfig().gates.residual_factor).passed
    one, two = (r.segment_factors for r in results)
    assert max(abs(one[s] / two[s] - 1) for s in one) < 1e-3


def test_the_gates_compare_a_residual_with_what_the_measured_noise_explains() -> None:
    assert expected_residual_mm(np.full(19, 3.0)) == pytest.approx(3.0 * np.sqrt(3))
    verdict = gate("scaling", 5.2, 25.4, 2.0)
    assert not verdict.passed and verdict.limit_mm == pytest.approx(10.4)
    assert "25.4 mm where the measured marker noise explains 5.2 mm" in verdict.describe()
    assert gate("scaling", 5.2, 25.4, 0.0).passed  # 0: off
    assert gate("scaling", 5.2, float("nan"), 2.0).passed  # nothing fitted, nothing judged
    flags = frame_flags(np.array([1.0, 20.0, np.nan]), 5.0, 2.0)
    assert flags.tolist() == [0, 2, 0]


def swap_hips(root, subject: str) -> None:
    """Every mocap file of a subject with its left and right hip joints swapped: a labelling error
    that no scaling fits (its factors come out ~10 % off, the residual ~20x the noise)."""
    from simspine_dataset.io.cdf import write_pose

    for record in discover(root, [subject], check_videos=False).sequences:
        joints = load_mocap(record).joints_world_mm.copy()
        joints[:, [J.RIGHT_UP_LEG, J.LEFT_UP_LEG]] = joints[:, [J.LEFT_UP_LEG, J.RIGHT_UP_LEG]]
        write_pose(record.files.d3_positions, joints)


def test_a_subject_with_swapped_hips_trips_the_gate_and_fails_validate(tmp_path, capsys) -> None:
    from simspine_dataset.cli import main
    from simspine_dataset.commands.validate import validate

    settings = CaptureSettings(("S1", "S9"), 0.6, seed=5, mocap_noise_mm=1.0, actions=("Walking", "Eating"),
                               videos=False, detections=False)  # fmt: skip
    raw = generate_capture(tmp_path / "raw", settings)
    swap_hips(raw, "S9")
    assert main(["build", str(raw), str(tmp_path / "out"), "--no-videos"]) == 1
    printed = capsys.readouterr().out
    assert "FLAGGED S9" in printed and "scaling residual" in printed and "FLAGGED S1" not in printed
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    by_subject = {e["subject"]: e for e in report["sequences"]}
    assert by_subject["S1"]["status"] == "ok" and by_subject["S9"]["status"] == "flagged"
    scaling = next(g for g in by_subject["S9"]["gates"] if g["name"] == "scaling")
    assert not scaling["passed"] and scaling["found_mm"] > scaling["limit_mm"]  # what was expected, found
    checks = {c.name: c for c in validate(tmp_path / "out")}
    assert checks["labels within the gates"].status == "fail"
    assert "S9 Walking" in checks["labels within the gates"].detail
    import pyarrow.parquet as pq

    rows = pq.read_table(sorted((tmp_path / "out" / "data").glob("default/*/*.parquet")),
                         columns=["subject", "label_flags"]).to_pydict()  # fmt: skip
    pairs = list(zip(rows["subject"], rows["label_flags"], strict=True))
    flags = {s: {f & FLAG_SCALING for s2, f in pairs if s2 == s} for s in ("S1", "S9")}
    assert flags == {"S1": {0}, "S9": {FLAG_SCALING}}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Flagged sequences" in card and "- S9 Walking" in card
