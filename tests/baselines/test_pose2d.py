"""The 2D pose baseline on the mmpose stack: metadata from the skeleton table, metric wrappers
against mmpose's own, and a CPU smoke run (train a few iterations, evaluate, chain into task 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mmpose", reason="the mmpose stack: bash baselines/pose2d/install.sh")

from baselines.pose2d.metainfo import dataset_info
from baselines.pose2d.metrics import SUBSETS, coco_keypoint_ap, pck_auc
from simspine_dataset import skeleton as sk

CONFIGS = "baselines/pose2d/configs"


def test_every_runtime_requirement_of_the_stack_is_installed() -> None:
    """install.sh installs the stack --no-deps; what it then installs must cover their metadata."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    from baselines.pose2d.requirements import REPLACED, runtime_requirements

    names = [Requirement(line).name.lower() for line in runtime_requirements()]
    assert {"six", "munkres", "json-tricks", "shapely"} <= set(names)  # six: CI once lacked it
    assert not set(REPLACED) & set(names)
    missing = []
    for name in names:
        try:
            version(name)
        except PackageNotFoundError:
            missing.append(name)
    assert missing == []


def test_torchvision_shim_converts_like_torchvision_and_refuses_the_rest() -> None:
    """ToPILImage: C x H x W floats -> mul(255).byte() in H x W x C; H x W x C uint8 unchanged."""
    import torch
    import torchvision
    from torchvision.ops import boxes
    from torchvision.transforms import ToPILImage

    assert torchvision.__version__.endswith("simspine.shim")
    # never installed: found in the repository, put on the path by baselines.pose2d, last
    import importlib.metadata
    import os
    import sys

    from baselines.pose2d import SHIM, full_unpickling

    assert Path(torchvision.__file__).is_relative_to(SHIM) and sys.path[-1] == str(SHIM)
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("simspine-torchvision-shim")
    with full_unpickling():  # checkpoints unpickle fully in the block only
        assert os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    chw = torch.rand(3, 5, 7, generator=torch.Generator().manual_seed(0))
    image = ToPILImage()(chw)
    assert image.mode == "RGB" and image.size == (7, 5)
    np.testing.assert_array_equal(np.asarray(image), chw.mul(255).byte().permute(1, 2, 0).numpy())
    gray = np.arange(35, dtype=np.uint8).reshape(5, 7)
    assert ToPILImage()(gray).mode == "L"
    np.testing.assert_array_equal(np.asarray(ToPILImage()(gray)), gray)
    with pytest.raises(NotImplementedError, match="shim"):
        boxes.box_iou(torch.zeros(1, 4), torch.zeros(1, 4))


def test_metainfo_parses_into_the_skeleton_table() -> None:
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    meta = parse_pose_metainfo(dataset_info())
    assert meta["num_keypoints"] == 37
    assert list(meta["flip_indices"]) == list(sk.FLIP_INDEX)
    np.testing.assert_allclose(meta["sigmas"], sk.SIGMAS)
    assert len(meta["skeleton_links"]) == len(sk.BONES)
    assert [sk.NAMES[i] for i in SUBSETS["spine"]] == [
        "Hip",
        "Spine_01",
        "Spine_02",
        "Spine_03",
        "Spine_04",
        "Spine_05",
        "Neck",
        "Neck_02",
        "Neck_03",
    ]


def _coco(n: int, rng) -> tuple[dict, list[dict]]:
    truth = rng.uniform(20, 230, (n, 37, 2))
    visible = rng.random((n, 37)) > 0.1
    images, anns, preds = [], [], []
    for i in range(n):
        k = np.concatenate([truth[i], 2.0 * visible[i, :, None]], axis=1)
        k[~visible[i], :2] = 0
        box = [10.0, 10.0, 230.0, 235.0]
        images.append({"id": i, "file_name": f"{i}.jpg", "width": 256, "height": 256})
        anns.append(
            {
                "id": i,
                "image_id": i,
                "category_id": 1,
                "iscrowd": 0,
                "keypoints": k.ravel().tolist(),
                "num_keypoints": int(visible[i].sum()),
                "bbox": box,
                "area": box[2] * box[3],
            }
        )
        guess = truth[i] + rng.normal(0, rng.uniform(1, 12), (37, 2))
        score = rng.uniform(0.1, 1.0, 37)
        preds.append(
            {
                "image_id": i,
                "category_id": 1,
                "keypoints": np.column_stack([guess, score]).ravel().tolist(),
                "score": 1.0,
            }
        )
    gt = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "keypoints": list(sk.NAMES), "skeleton": []}],
    }
    return gt, preds


def test_coco_ap_equals_mmpose_coco_metric(tmp_path) -> None:
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.evaluation.metrics import CocoMetric

    gt, preds = _coco(40, np.random.default_rng(0))
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    metric = CocoMetric(
        ann_file=str(tmp_path / "gt.json"), nms_mode="none", outfile_prefix=str(tmp_path / "m")
    )
    metric.dataset_meta = parse_pose_metainfo(dataset_info())
    samples = []
    for p in preds:
        k = np.array(p["keypoints"]).reshape(1, 37, 3)
        samples.append(
            {
                "id": p["image_id"],
                "img_id": p["image_id"],
                "category_id": 1,
                "gt_instances": {},
                "pred_instances": {"keypoints": k[..., :2], "keypoint_scores": k[..., 2]},
            }
        )
    metric.process([], samples)
    theirs = metric.compute_metrics(metric.results)
    ours = coco_keypoint_ap(gt, preds, "all")
    assert 0.05 < ours["AP"] < 0.95  # a non-trivial case
    for name in ("AP", "AP .5", "AP .75", "AR"):
        assert ours[name] == pytest.approx(theirs[name], abs=1e-9), name
    assert coco_keypoint_ap(gt, preds, "spine")["AP"] != ours["AP"]  # subsets use their own sigmas


def test_pck_auc_equals_mmpose_keypoint_auc() -> None:
    from mmpose.evaluation.functional import keypoint_auc

    rng = np.random.default_rng(1)
    gt = rng.uniform(0, 256, (200, 37, 2))
    pred = gt + rng.normal(0, 8, gt.shape)
    mask = rng.random((200, 37)) > 0.2
    mask[:, 5] = False  # a keypoint never visible is left out, as mmpose does
    theirs = keypoint_auc(pred, gt, mask, norm_factor=30.0, num_thrs=20)
    assert pck_auc(pred, gt, mask, 30.0, 20) == pytest.approx(theirs, abs=1e-6)
    assert pck_auc(gt, gt, mask) == pytest.approx(0.95)  # thresholds start at 0: a perfect model scores 0.95


@pytest.fixture(scope="module")
def frames_build(tmp_path_factory):
    from fixtures import frames_build as build_with_frames

    return build_with_frames(tmp_path_factory.mktemp("pose2d"), seconds=0.3, seed=4, stride=3, size_px=96)


def test_cpu_smoke_train_evaluate_and_chain_into_triangulation(frames_build, tmp_path) -> None:
    from baselines.pose2d.evaluate import main as evaluate_main
    from baselines.pose2d.evaluate import predictions_npz
    from baselines.pose2d.train import main as train_main
    from baselines.triangulation.run import evaluate as triangulate

    config = f"{CONFIGS}/td-hm_res18-tiny_cpu_simspine-128x96.py"
    work = tmp_path / "work"
    assert (
        train_main(
            [
                "--config",
                config,
                "--dataset",
                str(frames_build),
                "--work-dir",
                str(work),
                "--max-iters",
                "3",
                "--batch-size",
                "4",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    checkpoint = work / "iter_3.pth"
    assert checkpoint.is_file()
    out = tmp_path / "eval"
    assert (
        evaluate_main(
            [
                "--config",
                config,
                "--checkpoint",
                str(checkpoint),
                "--dataset",
                str(frames_build),
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert set(results["coco"]) == {"all", "body", "spine"}
    assert results["coco"]["all"]["AP"] == pytest.approx(results["mmpose_coco_metric"]["coco/AP"], abs=1e-9)
    written = np.load(out / "predictions.npz")
    assert written["keypoints_2d_px"].shape == (results["images"], 37, 2)
    gt = json.loads((out / "data" / "annotations" / "test.json").read_text())
    perfect = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"]} for a in gt["annotations"]
    ]
    # anchors: the annotations as predictions score AP 1 on every subset, and PCK-AUC 0.95 (mmpose's
    # 20 thresholds start at 0, where nothing is within: 19 of 20 bins)
    for subset in SUBSETS:
        assert coco_keypoint_ap(gt, perfect, subset)["AP"] == pytest.approx(1.0), subset
    truth = np.array([a["keypoints"] for a in gt["annotations"]], dtype=float).reshape(-1, 37, 3)
    assert pck_auc(truth[..., :2], truth[..., :2], truth[..., 2] > 0) == pytest.approx(0.95)
    # the chain itself: the annotations written back as "predictions" triangulate to the 3D truth,
    # so crop -> full-image pixels and the row keys are right (an untrained model is too unsure)
    predictions_npz(gt, perfect, tmp_path / "perfect.npz")
    chained = triangulate(str(frames_build), "test", str(tmp_path / "perfect.npz"))
    assert chained["mpjpe_mm"]["Mean"]["All"] < 0.5  # mm: keypoints written at 1e-3 px
    detect_with_the_checkpoint(config, checkpoint, frames_build.parent / "raw", tmp_path / "detections")


def detect_with_the_checkpoint(config: str, checkpoint, raw, out) -> None:
    """Fine-tune, then detect with it: ``simspine detect --mmpose-config --checkpoint`` on the raw
    capture, its batched predictions equal to mmpose's own ``inference_topdown`` per box."""
    from mmpose.apis import inference_topdown

    from simspine_dataset.cli import main as simspine
    from simspine_dataset.io import detections as det_io
    from simspine_dataset.io.video import read_frames
    from simspine_dataset.pose_models import MmposeModel
    from simspine_dataset.stages.capture import discover
    from simspine_dataset.stages.crops import mocap_boxes

    args = ["detect", str(raw), str(out), "--mmpose-config", config, "--checkpoint", str(checkpoint)]
    assert simspine([*args, "--subjects", "S9"]) == 0
    record = discover(raw, ["S9"]).sequences[0]
    camera = record.cameras[1]
    boxes = mocap_boxes(record, camera)
    model = MmposeModel(config, checkpoint)
    frames = dict(read_frames(record.files.videos[camera.id], [0, 7], "bgr24"))
    for index, image in frames.items():
        result = inference_topdown(model.model, image, boxes[index][None], bbox_format="xyxy")
        theirs_xy, theirs_scores = (
            result[0].pred_instances.keypoints[0],
            result[0].pred_instances.keypoint_scores[0],
        )
        xy, scores = det_io.read_sequence(out, "S9", record.sequence, camera.id, index + 1)
        found = theirs_scores > 1e-4  # a score <= 0 is "not found" in the files; near 0 it may flip
        np.testing.assert_allclose(scores[index][found], theirs_scores[found], atol=2e-6)
        np.testing.assert_allclose(xy[index][found], theirs_xy[found], atol=2e-3)  # 1e-3 px in JSON
        assert found.sum() >= 5 and np.isnan(xy[index][theirs_scores < -1e-4]).all()


def test_onnx_models_are_scored_on_the_same_crops_and_chain_into_triangulation(
    frames_build, tmp_path
) -> None:
    """SpinePose-signature ONNX (here peaks at known crop positions) through the same crops and
    boxes: predictions land on the pixels the crop geometry says, in full-image pixels."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from baselines.pose2d.evaluate import main as evaluate_main
    from simspine_dataset.stages.frames import crop_to_full_px
    from simspine_dataset.synthetic.pose_onnx import fixed_peaks_model

    size = np.array([192, 256])
    peaks = np.random.default_rng(1).uniform(20, 170, (sk.NUM_KEYPOINTS, 2)).round() + 0.5  # SpineTrack order
    model = fixed_peaks_model(tmp_path / "peaks.onnx", peaks, 0.7)
    out = tmp_path / "eval"
    assert evaluate_main(["--onnx", str(model), "--dataset", str(frames_build), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"].startswith("model peaks.onnx:") and results["images"] > 0
    gt = json.loads((out / "data" / "annotations" / "test.json").read_text())
    written = np.load(out / "predictions.npz")
    assert np.allclose(written["scores"], 0.7, atol=1e-6)
    for i, ann in enumerate(sorted(gt["annotations"], key=lambda a: a["image_id"])):
        x, y, w, h = ann["bbox"]  # the person box in the crop image: padded 1.25, grown to 3:4
        side = max(w * 1.25, h * 1.25 * 192 / 256)
        scale = np.array([side, side * 256 / 192])
        in_crop = np.array([x + w / 2, y + h / 2]) + (peaks - size / 2) * scale / size
        image = gt["images"][[im["id"] for im in gt["images"]].index(ann["image_id"])]
        crop = np.array(image["simspine"]["crop_xywh_px"], float)[None]
        expected = crop_to_full_px(in_crop[None], crop, [image["width"]])[0]
        np.testing.assert_allclose(
            written["keypoints_2d_px"][i][list(sk.FROM_SPINETRACK)], expected, atol=2e-3
        )


def test_an_exported_checkpoint_gives_mmposes_keypoints_through_spineposes_io(tmp_path) -> None:
    """``export_onnx``: RTMPose-m (random weights, so every channel and keypoint matters) run by
    ``simspine detect``'s ONNX path on BGR crops normalised as SpinePose normalises them gives the
    keypoints mmpose gives on the same crops (flip test off: it is not exported); a file that fed
    the network SpinePose's BGR order unchanged would not."""
    pytest.importorskip("onnxruntime")
    import torch
    from mmpose.apis import init_model

    from baselines.pose2d.export_onnx import export_onnx, spinepose_io_module
    from simspine_dataset.pose_models import CropBatch, MmposeModel, SimccOnnxModel, model_input

    config = f"{CONFIGS}/rtmpose-m_8xb256-420e_simspine-256x192.py"
    torch.manual_seed(0)
    network = init_model(config, device="cpu")
    checkpoint = tmp_path / "random.pth"
    torch.save({"state_dict": network.state_dict()}, checkpoint)
    onnx = SimccOnnxModel(export_onnx(config, checkpoint, tmp_path / "rtmpose-m.onnx"), (192, 256), threads=2)
    mmpose = MmposeModel(config, checkpoint)
    mmpose.model.test_cfg["flip_test"] = False
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (6, 256, 192, 3)).astype(np.uint8)
    crops[:, 60:200, 50:140] = [200, 60, 20]  # a blue block (BGR): the channel order matters
    batch = CropBatch(crops, rng.uniform(300, 700, (6, 2)), np.tile([384.0, 512.0], (6, 1)))
    (ours, _), (theirs, _) = onnx.predict(batch), mmpose.predict(batch)
    assert np.abs(ours - theirs).max() < 1e-3  # mmpose decodes in float32
    module = spinepose_io_module(mmpose.model)
    module.order = torch.tensor([0, 1, 2])  # planted: BGR fed to a network trained on RGB
    with torch.no_grad():
        simcc_x, _ = module(torch.from_numpy(model_input(crops)))
    moved = simcc_x.numpy().argmax(-1) != onnx.session.run(None, {"input": model_input(crops)})[0].argmax(-1)
    assert moved.sum() >= 5  # keypoints a whole SimCC bin (>= 0.5 crop px) away: the check above fails


def test_published_configs_build_their_models() -> None:
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    init_default_scope("mmpose")
    for name in (
        "td-hm_hrnet-w32_8xb64-210e_simspine-256x192",
        "td-hm_ViTPose-base_8xb64-210e_simspine-256x192",
        "rtmpose-m_8xb256-420e_simspine-256x192",
    ):
        cfg = Config.fromfile(f"{CONFIGS}/{name}.py")
        model = MODELS.build(cfg.model).eval()
        with torch.no_grad():
            out = model(torch.zeros(1, 3, 256, 192), None, mode="tensor")
        out = out[0] if isinstance(out, tuple) else out
        assert out.shape[1] == 37, name
        if "ViTPose" in name:
            assert out.shape[2:] == (64, 48)  # heatmaps at 1/4 of 256x192
            _assert_layer_decay(model, cfg.optim_wrapper)


def _assert_layer_decay(model, optim_wrapper_cfg) -> None:
    """ViTPose's optimiser: lr scaled 0.75 per block from the head down, no decay on biases/norms."""
    from mmengine.optim import build_optim_wrapper

    groups = build_optim_wrapper(model, optim_wrapper_cfg).optimizer.param_groups
    scales = sorted({g["lr"] / optim_wrapper_cfg.optimizer.lr for g in groups})
    assert scales[-1] == pytest.approx(1.0) and scales[0] == pytest.approx(0.75**13)
    assert len(scales) == 14  # patch embedding, 12 blocks, head
    assert all(g["weight_decay"] == 0 for g in groups if g["params"][0].ndim == 1)
    assert any(g["weight_decay"] == 0.1 for g in groups)


def test_data_mixing_reorders_an_external_spinetrack_dataset(frames_build, tmp_path) -> None:
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    from baselines.pose2d.adapter import export
    from baselines.pose2d.train import configure

    ours = export(str(frames_build), "train", tmp_path / "ours")
    coco = json.loads(ours.read_text())
    for ann in coco["annotations"]:  # the same images, annotated in SpineTrack's keypoint order
        k = np.array(ann["keypoints"]).reshape(37, 3)
        ann["keypoints"] = k[list(sk.FROM_SPINETRACK)].ravel().tolist()
    external = tmp_path / "external.json"
    external.write_text(json.dumps(coco))
    config = f"{CONFIGS}/td-hm_res18-tiny_cpu_simspine-128x96.py"
    cfg = configure(
        config,
        str(frames_build),
        tmp_path / "work",
        external_ann=external,
        external_images=tmp_path / "ours" / "images" / "train",
        fraction=0.25,
    )
    init_default_scope("mmpose")
    mixed = cfg.train_dataloader.dataset
    mixed.pipeline = []  # raw samples: no image loading or targets
    dataset = DATASETS.build(mixed)
    n_ours = round(0.25 * len(coco["annotations"]))
    assert len(dataset) == n_ours + len(coco["annotations"])
    assert cfg.train_dataloader.sampler["type"] == "MultiSourceSampler"
    first_external = dataset[n_ours]
    np.testing.assert_allclose(
        first_external["keypoints"][0],
        np.array(coco["annotations"][0]["keypoints"]).reshape(37, 3)[list(sk.TO_SPINETRACK), :2],
    )
