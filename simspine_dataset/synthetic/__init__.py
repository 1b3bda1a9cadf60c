"""The embedded default: a synthetic capture in the exact Human3.6M layout, from our model."""
