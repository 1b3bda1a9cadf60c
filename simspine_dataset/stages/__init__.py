"""The pipeline's stages, one module each, in the order data flows through them:

``capture`` (read a Human3.6M-style capture) -> ``detect`` (SpinePose 2D detections) ->
``pseudo_markers`` (triangulated spine observations) / ``annotations`` (the official labels) ->
``simulate`` (scaled model, inverse kinematics, vertebra keypoints) -> ``views`` (one row per
camera-frame) -> ``frames`` (images) -> ``shards`` (the dataset's Parquet files).

A stage depends on settings (``simspine_dataset.config``) and on the stages before it, never on
the commands that run it (``simspine_dataset.commands``)."""
