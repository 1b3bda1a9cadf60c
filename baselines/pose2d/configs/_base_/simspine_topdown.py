# Shared settings of the top-down configs on the SIMSPINE `frames` config (mmpose 1.3 conventions).
# Data paths, the keypoint metainfo (generated from the skeleton table) and the evaluator's annotation
# file are filled in by baselines.pose2d.train / evaluate from --dataset; each model's config sets its
# `codec` and pipelines and puts the pipelines into the dataloaders below (a base cannot see them).
default_scope = "mmpose"
dataset_type = "CocoDataset"
data_mode = "topdown"
num_keypoints = 37

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_mode=data_mode,
        data_root="",
        ann_file="annotations/train.json",
        data_prefix=dict(img="images/train/"),
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_mode=data_mode,
        data_root="",
        ann_file="annotations/test.json",
        data_prefix=dict(img="images/test/"),
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="CocoMetric", ann_file="")
test_evaluator = val_evaluator

default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(
        type="CheckpointHook", interval=10, save_best="coco/AP", rule="greater", max_keep_ckpts=2
    ),
    sampler_seed=dict(type="DistSamplerSeedHook"),
    visualization=dict(type="PoseVisualizationHook", enable=False),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),
)
vis_backends = [dict(type="LocalVisBackend")]
visualizer = dict(type="PoseLocalVisualizer", vis_backends=vis_backends, name="visualizer")
log_processor = dict(type="LogProcessor", window_size=50, by_epoch=True, num_digits=6)
log_level = "INFO"
load_from = None
resume = False
randomness = dict(seed=0)
val_cfg = dict()
test_cfg = dict()
