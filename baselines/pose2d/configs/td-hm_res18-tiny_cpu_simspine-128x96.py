# A tiny CPU config for smoke runs and the test suite: ResNet-18 heatmap model at 128x96, no flip test.
_base_ = ["./_base_/simspine_topdown.py"]

train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
optim_wrapper = dict(optimizer=dict(type="Adam", lr=1e-3))
param_scheduler = [dict(type="LinearLR", begin=0, end=10, start_factor=0.1, by_epoch=False)]

codec = dict(type="MSRAHeatmap", input_size=(96, 128), heatmap_size=(24, 32), sigma=1)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="RandomFlip", direction="horizontal"),
    dict(type="TopdownAffine", input_size=codec["input_size"]),
    dict(type="GenerateTarget", encoder=codec),
    dict(type="PackPoseInputs"),
]
val_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale"),
    dict(type="TopdownAffine", input_size=codec["input_size"]),
    dict(type="PackPoseInputs"),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False, dataset=dict(pipeline=train_pipeline)
)
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False, dataset=dict(pipeline=val_pipeline)
)
test_dataloader = val_dataloader
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, save_best=None))

model = dict(
    type="TopdownPoseEstimator",
    data_preprocessor=dict(
        type="PoseDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
    ),
    backbone=dict(type="ResNet", depth=18),
    head=dict(
        type="HeatmapHead",
        in_channels=512,
        out_channels=37,
        deconv_out_channels=(64, 64, 64),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type="KeypointMSELoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=False),
)
