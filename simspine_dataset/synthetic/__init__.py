"""The embedded default: a synthetic capture in the exact Human3.6M layout, from our model."""

DEMO_SUBJECTS: tuple[str, ...] = ("S1", "S9")  # the demo's capture: one train, one test subject
# the model whose markers are a capture's truth: ours, or SIMSPINE's own (biomech.simspine_truth)
TRUTH_MODELS: tuple[str, ...] = ("ours", "simspine")
