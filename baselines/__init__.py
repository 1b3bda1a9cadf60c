"""Baselines of the three SIMSPINE benchmark tasks; each reads the dataset through
``datasets.load_dataset`` only. Run them as ``python -m baselines.<task>`` from the repository root."""
