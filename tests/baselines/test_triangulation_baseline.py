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


def _errors_both_ways(dataset, seed: int):
    """Per frame and keypoint (G, 37) errors (mm) of the same noisy 2D triangulated two ways: the
    package's solver (as the baseline calls it) and a textbook unweighted DLT over every view that
    has the point (written here, independent of the package's solver); NaN where one has no point.
    And each frame's action."""
    import numpy as np

    from baselines.data import frame_groups, input_2d, input_columns, load_split, row_cameras
    from baselines.triangulation.run import COLUMNS
    from simspine_dataset import h36m, triangulate
    from simspine_dataset.geometry.camera import undistort

    columns = load_split(str(dataset), "test", sorted({*COLUMNS, *input_columns("noisy")}))
    index, keys = frame_groups(columns, h36m.CAMERA_IDS)
    px, conf = input_2d("noisy", columns, seed)
    truth = columns["keypoints_3d_world_mm"][index[:, 0]].astype(float)  # (G, 37, 3)
    ours, plain = np.full(truth.shape[:2], np.nan), np.full(truth.shape[:2], np.nan)
    for g, group in enumerate(index):
        cameras = row_cameras(columns, group)
        result = triangulate(px[group], conf[group], cameras)
        ours[g] = np.linalg.norm(result.points_mm - truth[g], axis=-1)
        for k in range(truth.shape[1]):
            rows = []
            for camera, row in zip(cameras, group, strict=True):
                if conf[row, k] <= 0 or not np.isfinite(px[row, k]).all():
                    continue
                x, y = undistort(px[row, k][None], camera.intrinsics)[0]
                P = np.concatenate([camera.rotation, camera.translation_mm[:, None]], axis=1)
                rows += [x * P[2] - P[0], y * P[2] - P[1]]
            if len(rows) >= 4:
                X = np.linalg.svd(np.array(rows))[2][-1]
                plain[g, k] = np.linalg.norm(X[:3] / X[3] - truth[g, k])
    return ours, plain, [k["action"] for k in keys]


def test_detector_noise_gives_realistic_errors(dataset) -> None:
    import numpy as np

    results = evaluate(str(dataset), "test", "noisy", seed=1)
    mean = results["mpjpe_mm"]["Mean"]
    from simspine_dataset.metrics import region_means

    ours, plain, actions = _errors_both_ways(dataset, seed=1)
    assert region_means(ours, actions)["Mean"]["All"] == pytest.approx(mean["All"], rel=1e-6)  # its solve
    # confidence weights and view selection beat the plain DLT on the same inputs and the same
    # keypoints (those the baseline triangulated, up to 10 % being left out), by a margin
    both = np.isfinite(ours) & np.isfinite(plain)
    assert both.sum() >= 0.9 * np.isfinite(plain).sum()
    assert ours[both].mean() < 0.8 * plain[both].mean(), (ours[both].mean(), plain[both].mean())
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
