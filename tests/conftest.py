"""Pytest fixtures shared by the suite (helpers live in ``fixtures.py``)."""

import os
import tempfile

from fixtures import make_capture  # noqa: F401 - a fixture, found by name

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach the Hub
# a fresh datasets cache per session: a build folder reused at the same path must not hit old caches
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="hf-datasets-cache-")
