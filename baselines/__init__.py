"""Baselines of the three SIMSPINE benchmark tasks.

Each reads the dataset through ``datasets.load_dataset`` only. Run them from the repository root
as ``python -m baselines.<task>``.
"""
