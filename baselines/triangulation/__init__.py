"""Benchmark task 2: multi-view triangulation of the 37 keypoints (``python -m baselines.triangulation``)."""
