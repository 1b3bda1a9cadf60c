"""The lifting baseline: data, model, training (overfit, resume), checkpoints and scoring."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from fixtures import write_tiny_dataset

from baselines.lifting import train as train_module
from baselines.lifting.data import ROOT, LiftingArrays, load_arrays
from baselines.lifting.evaluate import main as evaluate_main
from baselines.lifting.evaluate import predict, score
from baselines.lifting.train import TrainConfig, fit, load_checkpoint
from baselines.lifting.train import main as train_main
from simspine_dataset import skeleton as sk


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    takes = {"S1": [("Walking", 1), ("Sitting", 1)], "S9": [("Walking", 2), ("Greeting", 1)]}
    return write_tiny_dataset(root, takes)


def _arrays(n: int = 32, keypoints=sk.SPINE_SUBSET, seed: int = 0) -> LiftingArrays:
    rng = np.random.default_rng(seed)
    targets = rng.normal(0, 200, (n, len(keypoints), 3)).astype(np.float32)
    targets[:, 0] = 0
    inputs = rng.normal(0, 0.3, (n, len(keypoints), 2)).astype(np.float32)
    labels = np.array(["Walking"] * n)
    return LiftingArrays(inputs, targets, tuple(keypoints), labels, labels, labels)


def test_arrays_are_root_relative_camera_coordinates(dataset) -> None:
    arrays = load_arrays(str(dataset), "test", "spine")
    assert arrays.inputs.shape[1:] == (15, 2) and arrays.targets.shape[1:] == (15, 3)
    assert arrays.keypoints[0] == ROOT and np.all(arrays.targets[:, 0] == 0)
    full = load_arrays(str(dataset), "test", "full")
    assert full.inputs.shape[1:] == (37, 2)
    # normalised 2D = the camera-frame direction x/z, y/z up to the (small) Human3.6M lens distortion
    from baselines.data import load_split

    camera = load_split(str(dataset), "test", ["keypoints_3d_camera_mm"])["keypoints_3d_camera_mm"]
    direction = camera[..., :2] / camera[..., 2:]
    visible = np.isfinite(full.inputs).all(-1)
    assert np.abs(full.inputs - direction)[visible].max() < 0.01
    np.testing.assert_allclose(full.targets, camera - camera[:, :1], atol=1e-3)


def test_model_overfits_a_handful_of_samples(tmp_path) -> None:
    arrays = _arrays(32)
    config = TrainConfig(
        keypoints="spine", epochs=250, batch_size=32, width=128, blocks=1, dropout=0.0, lr=3e-3
    )
    summary = fit(arrays, tmp_path, config, device="cpu", progress=False)
    model, _, _ = load_checkpoint(tmp_path / "checkpoint.pt")
    start = np.linalg.norm(arrays.targets, axis=-1).mean()  # ~ what predicting the mean pose costs
    with torch.no_grad():  # batch statistics, as in training: the fit itself
        fitted = model.train().predict_mm(torch.as_tensor(arrays.inputs)).numpy()
    assert np.linalg.norm(fitted - arrays.targets, axis=-1).mean() < 0.5  # mm
    # eval mode uses the running (unbiased, n - 1) batch-norm statistics: close, not exact, on 32 samples
    assert np.linalg.norm(predict(model, arrays.inputs) - arrays.targets, axis=-1).mean() < 0.05 * start
    assert summary["loss_history"][-1] < 1e-4 * summary["loss_history"][0]


def test_checkpoint_round_trip_reproduces_predictions(tmp_path) -> None:
    arrays = _arrays(64, keypoints=range(37))
    config = TrainConfig(keypoints="full", epochs=2, batch_size=16, width=64, blocks=2)
    fit(arrays, tmp_path, config, device="cpu", progress=False)
    model, loaded, state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert loaded == config and state["epoch"] == 2
    fresh = train_module.build_model(config, 37)
    fresh.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=False)["model"])
    np.testing.assert_array_equal(predict(model, arrays.inputs), predict(fresh, arrays.inputs))
    # the training statistics travel with the weights: those of the training inputs, not defaults
    valid = arrays.inputs.reshape(len(arrays), -1)
    np.testing.assert_allclose(model.in_std.numpy().ravel(), np.nanstd(valid, axis=0).ravel(), rtol=1e-3)


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch) -> None:
    arrays = _arrays(96)
    config = TrainConfig(keypoints="spine", epochs=3, batch_size=16, width=32, blocks=1, dropout=0.3)
    fit(arrays, tmp_path / "straight", config, device="cpu", progress=False)

    real_save = train_module._save

    def crash_after_first_epoch(path, model, optimizer, scheduler, config, keypoints, epoch, history):
        real_save(path, model, optimizer, scheduler, config, keypoints, epoch, history)
        if epoch == 1:
            raise KeyboardInterrupt  # the job is killed after its first checkpoint

    monkeypatch.setattr(train_module, "_save", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit(arrays, tmp_path / "resumed", config, device="cpu", progress=False)
    monkeypatch.setattr(train_module, "_save", real_save)
    torch.manual_seed(123)  # a different process state: the checkpoint restores what matters
    fit(arrays, tmp_path / "resumed", config, device="cpu", progress=False)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)
    assert a["history"] == b["history"]
    for name, tensor in a["model"].items():
        torch.testing.assert_close(tensor, b["model"][name], rtol=0, atol=0)
    with pytest.raises(ValueError, match="other settings"):
        fit(
            arrays,
            tmp_path / "resumed",
            TrainConfig(keypoints="spine", epochs=4),
            device="cpu",
            progress=False,
        )


def test_perfect_predictions_score_zero_and_errors_are_in_mm() -> None:
    arrays = _arrays(20, keypoints=range(37))
    results = score(arrays.targets, arrays, "test")
    assert results["mpjpe_mm"]["Mean"]["All"] == 0 and results["p_mpjpe_mm"]["Mean"]["S"] < 1e-9
    shifted = arrays.targets + np.array([0, 0, 10.0], np.float32)
    shifted[:, 0] = 0  # the root stays at the origin: 36 of 37 keypoints are 10 mm off
    assert score(shifted, arrays, "test")["mpjpe_mm"]["Mean"]["All"] == pytest.approx(10 * 36 / 37, rel=1e-5)
    assert score(shifted, arrays, "test")["p_mpjpe_mm"]["Mean"]["All"] < 10


def test_spine_model_reports_only_the_regions_it_predicts() -> None:
    arrays = _arrays(10)
    results = score(arrays.targets, arrays, "test")
    assert list(results["mpjpe_mm"]["Walking"]) == ["S_C", "S_T", "S_L", "S"]
    assert list(results["p_mpjpe_mm"]["Walking"]) == ["S_C", "S_T", "S_L", "S"]


def test_train_and_evaluate_commands(dataset, tmp_path) -> None:
    out = tmp_path / "run"
    args = [
        "--dataset",
        str(dataset),
        "--keypoints",
        "full",
        "--epochs",
        "2",
        "--width",
        "64",
        "--out",
        str(out),
    ]
    assert train_main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["samples"] > 0 and summary["train_samples_per_s"] > 0
    assert (
        evaluate_main(
            ["--checkpoint", str(out / "checkpoint.pt"), "--dataset", str(dataset), "--out", str(out)]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert set(results["mpjpe_mm"]) == {"Walking", "Greeting", "Mean"}
    assert set(results["p_mpjpe_mm"]["Mean"]) == {"S_C", "S_T", "S_L", "S", "B", "All"}
    # the table against the same checkpoint's predictions scored here, by numpy alone
    model, _, _ = load_checkpoint(out / "checkpoint.pt")
    arrays = load_arrays(str(dataset), "test", "full")
    errors = np.linalg.norm(predict(model, arrays.inputs) - arrays.targets, axis=-1)[:, list(sk.REGIONS["S"])]
    per_action = [errors[arrays.actions == action].mean() for action in sorted(set(arrays.actions.tolist()))]
    assert results["mpjpe_mm"]["Mean"]["S"] == pytest.approx(float(np.mean(per_action)), rel=1e-5)


def test_onnx_lifter_is_scored_on_the_same_rows_in_spinetrack_order(dataset, tmp_path) -> None:
    """A lifter with the official one's I/O (here: the input on the image plane, depth 0) is fed
    SpineTrack order and scored in ours: equal to the same poses built here in our order."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from baselines.lifting.data import load_arrays
    from baselines.lifting.evaluate import main as evaluate_main
    from simspine_dataset import metrics
    from simspine_dataset.synthetic.pose_onnx import flat_lifter_model

    lifter = flat_lifter_model(tmp_path / "lifter.onnx")
    assert evaluate_main(["--onnx", str(lifter), "--dataset", str(dataset), "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert "N-MPJPE" in results["protocol"]
    arrays = load_arrays(str(dataset), "test", "full")
    flat = np.concatenate([np.nan_to_num(arrays.inputs), np.zeros((len(arrays), 37, 1))], axis=-1)
    flat -= flat[:, :1]
    aligned = metrics.scale_align(flat, arrays.targets.astype(float))
    spine = list(sk.REGIONS["S"])
    errors = metrics.keypoint_errors(aligned, arrays.targets)[:, spine]
    expected = np.mean([np.nanmean(errors[arrays.actions == a]) for a in np.unique(arrays.actions)])
    assert results["mpjpe_mm"]["Mean"]["S"] == pytest.approx(expected, rel=1e-4)
    assert 5 < expected < 200  # a weak-perspective spine: tens of mm off, not a shuffled skeleton


def test_streamed_training_reads_the_split_through_the_loader(dataset, tmp_path) -> None:
    """``--stream``: batches from ``BatchLoader``; its statistics, from the build's meta/stats.json
    or from one streamed pass, equal the in-memory ones (for both keypoint sets), every row is
    trained on once per epoch, and the result scores like the in-memory run."""
    from datasets import load_dataset

    from baselines.lifting.train import fit_streamed
    from simspine_dataset.loader import dataset_stats

    split = load_dataset(str(dataset), split="train")
    for keypoints, stats in (
        ("full", None),
        ("full", dataset_stats(str(dataset))),
        ("spine", dataset_stats(str(dataset))),
    ):
        config = TrainConfig(
            keypoints=keypoints, epochs=3, batch_size=32, width=64, blocks=1, dropout=0.0, stream=True
        )
        summary = fit_streamed(
            split, tmp_path / "streamed", config, device="cpu", progress=False, stats=stats
        )
        streamed, _, _ = load_checkpoint(tmp_path / "streamed" / "checkpoint.pt")
        shutil.rmtree(tmp_path / "streamed")
        arrays = load_arrays(str(dataset), "train", keypoints)
        reference = train_module.build_model(config, len(arrays.keypoints))
        reference.set_statistics(torch.as_tensor(arrays.inputs), torch.as_tensor(arrays.targets))
        for name in ("in_mean", "in_std", "out_mean", "out_std"):
            torch.testing.assert_close(
                getattr(streamed, name), getattr(reference, name), rtol=1e-4, atol=1e-4
            )
    assert summary["samples"] == len(arrays) and summary["loss_history"][-1] < summary["loss_history"][0]
    with pytest.raises(ValueError, match="ground-truth 2D"):
        fit_streamed(split, tmp_path / "noisy", TrainConfig(input="noisy", stream=True), device="cpu")
    assert (
        train_main(
            [
                "--dataset",
                str(dataset),
                "--out",
                str(tmp_path / "cli"),
                "--stream",
                "--epochs",
                "1",
                "--width",
                "32",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "cli" / "summary.json").read_text())["samples"] == len(arrays)
