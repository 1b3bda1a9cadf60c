"""2D metrics of the task-1 baseline: COCO-style keypoint AP/AR (OKS with our sigmas) on the whole
skeleton and on SpinePose's body (17) and spine (9) subsets, and PCK-AUC.

- ``coco_keypoint_ap`` runs xtcocotools' ``COCOeval`` (the evaluator mmpose's ``CocoMetric`` uses)
  on ground truth and predictions restricted to a keypoint subset, with that subset's sigmas and
  ``use_area``; instance scores follow mmpose's ``bbox_keypoint`` rule (box score 1 x the mean of
  keypoint scores above 0.2). On all 37 keypoints it equals ``CocoMetric`` (tested).
- ``pck_auc``: the area under PCK(threshold) for thresholds 0, 1/20, ..., 19/20 of ``norm_factor``
  pixels, as mmpose's ``keypoint_auc`` (tested against it), vectorised.
"""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np

from simspine_dataset import skeleton as sk

# SpinePose's evaluation subsets, as indices into our 37-keypoint order.
SUBSETS: dict[str, tuple[int, ...]] = {
    "all": tuple(range(sk.NUM_KEYPOINTS)),
    "body": tuple(sk.FROM_SPINETRACK[j] for j in sk.SPINETRACK_BODY_SUBSET),
    "spine": tuple(sk.FROM_SPINETRACK[j] for j in sk.SPINETRACK_SPINE_SUBSET),
}
STATS = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")
KEYPOINT_SCORE_THR = 0.2


def instance_score(keypoint_scores: np.ndarray, bbox_score: float = 1.0) -> float:
    """mmpose's ``bbox_keypoint`` score: box score x mean of the keypoint scores above 0.2."""
    valid = keypoint_scores[keypoint_scores > KEYPOINT_SCORE_THR]
    return float(bbox_score * (valid.mean() if len(valid) else 0.0))


def _restrict(coco_gt: dict, predictions: list[dict], subset: tuple[int, ...]) -> tuple[dict, list[dict]]:
    index = np.array(subset)
    gt = copy.deepcopy(coco_gt)
    for ann in gt["annotations"]:
        k = np.asarray(ann["keypoints"], float).reshape(-1, 3)[index]
        ann["keypoints"], ann["num_keypoints"] = k.ravel().tolist(), int((k[:, 2] > 0).sum())
    gt["categories"] = [{**gt["categories"][0], "keypoints": [sk.NAMES[i] for i in subset], "skeleton": []}]
    dt = []
    for pred in predictions:
        k = np.asarray(pred["keypoints"], float).reshape(-1, 3)
        dt.append({**pred, "keypoints": k[index].ravel().tolist(), "score": instance_score(k[:, 2])})
    return gt, dt


def coco_keypoint_ap(coco_gt: dict, predictions: list[dict], subset: str = "all") -> dict[str, float]:
    """COCO keypoint AP/AR of ``predictions`` (COCO results: image_id, category_id, keypoints
    [x, y, score] x 37) against ``coco_gt`` (a COCO dict) on a subset ("all", "body", "spine")."""
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    indices = SUBSETS[subset]
    gt_dict, dt_list = _restrict(coco_gt, predictions, indices)
    with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints its tables
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        dt = gt.loadRes(dt_list)
        evaluator = COCOeval(gt, dt, "keypoints", np.array([sk.SIGMAS[i] for i in indices]), use_area=True)
        evaluator.params.useSegm = None
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return dict(zip(STATS, (float(v) for v in evaluator.stats), strict=True))


def pck_auc(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm_factor: float = 30.0, num_thrs: int = 20
) -> float:
    """Area under the PCK curve. pred, gt (N, K, 2) px; mask (N, K) keypoints to score."""
    distance = np.linalg.norm(pred - gt, axis=-1) / norm_factor  # (N, K)
    thresholds = np.arange(num_thrs) / num_thrs
    hits = (distance[None] < thresholds[:, None, None]) & mask[None]  # (T, N, K)
    counted = mask.sum(axis=0)  # per keypoint
    scored = counted > 0
    per_keypoint = hits.sum(axis=1)[:, scored] / counted[scored]  # (T, K')
    return float(per_keypoint.mean(axis=1).mean()) if scored.any() else 0.0
