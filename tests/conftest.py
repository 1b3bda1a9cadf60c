"""Pytest fixtures shared by the suite (helpers live in ``fixtures.py``)."""

import os

from fixtures import make_capture  # noqa: F401 - a fixture, found by name

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach the Hub
