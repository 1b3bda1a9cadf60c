"""Pytest fixtures shared by the suite (helpers live in ``fixtures.py``)."""

import os
import tempfile
import tomllib
from pathlib import Path

import pytest
from fixtures import make_capture  # noqa: F401 - a fixture, found by name

pytest_plugins = ["pytester"]  # tests of this conftest's own hooks (test_ci_skips.py)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach the Hub
# a fresh datasets cache per session: a build folder reused at the same path must not hit old caches
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="hf-datasets-cache-")


# In CI (CI=true) a skip is a failure unless tests/skips.toml names the test with its reason: an
# optional package that stopped importing (spinepose installed --no-deps, the mmpose stack) must not
# turn the only tests of a feature into silent skips with exit status 0.
SKIPS_FILE = Path(__file__).parent / "skips.toml"


def allowed_skips() -> dict[str, str]:
    """Test node id (or module path, for a whole module) -> why it may skip in CI."""
    return tomllib.loads(SKIPS_FILE.read_text()).get("allowed", {})


def _refuse_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if not (report.skipped and os.environ.get("CI") == "true"):
        return
    allowed = allowed_skips()
    if report.nodeid in allowed or report.nodeid.split("::")[0] in allowed:
        return
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI ({reason}): install what it needs in scripts/test.sh, or name it in "
        f"{SKIPS_FILE.name} with the reason it may skip"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    _refuse_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    _refuse_skip(outcome.get_result())
