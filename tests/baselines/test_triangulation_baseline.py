"""The triangulation baseline through datasets.load_dataset on a dataset folder."""

from __future__ import annotations

import json

import pytest
from fixtures import write_tiny_dataset

from baselines.triangulation.run import evaluate, main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    return write_tiny_dataset(root, {"S9": [("Walking", 1), ("Sitting", 2)], "S1": [("Phoning", 1)]})


def test_ground_truth_2d_is_an_oracle(dataset, tmp_path) -> None:
    assert main(["--dataset", str(dataset), "--split", "test", "--input", "gt", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["mpjpe_mm"]) == {"Sitting", "Walking", "Mean"}
    assert results["mpjpe_mm"]["Mean"]["All"] < 0.1  # mm: exact 2D triangulates back
    assert results["triangulated_fraction"] > 0.99  # keypoints outside all but one image stay NaN
    assert "| Walking |" in (tmp_path / "results.md").read_text()


def test_detector_noise_gives_realistic_errors(dataset) -> None:
    results = evaluate(str(dataset), "test", "noisy", seed=1)
    mean = results["mpjpe_mm"]["Mean"]
    assert 2.0 < mean["All"] < 60.0
    assert results["triangulated_fraction"] > 0.9  # NaN only where no subset of the views fits
    # the noise model makes the back-of-trunk keypoints (the spine) harder than the limbs
    assert mean["S_L"] > mean["B"]


def test_predictions_file_input(dataset, tmp_path) -> None:
    import numpy as np

    from baselines.data import load_split

    columns = load_split(
        str(dataset), "test", ("subject", "action", "subaction", "frame", "camera", "keypoints_2d_px")
    )
    scores = np.full(columns["keypoints_2d_px"].shape[:2], 0.9)
    scores[::7, 5] = 0.0  # some missed keypoints: still triangulated from the other views
    path = tmp_path / "pred.npz"
    np.savez(path, **{k: columns[k] for k in ("subject", "action", "subaction", "frame", "camera")},
             keypoints_2d_px=columns["keypoints_2d_px"], scores=scores)  # fmt: skip
    results = evaluate(str(dataset), "test", str(path))
    assert results["mpjpe_mm"]["Mean"]["All"] < 0.1
