"""In CI a skipped test fails the run unless ``tests/skips.toml`` names it with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
SKIPPING = """
import pytest

pytest.importorskip("a_module_that_is_not_installed")


def test_a():
    pass
"""
SKIPPING_ONE = """
import pytest


def test_b():
    pytest.importorskip("a_module_that_is_not_installed")
"""


@pytest.mark.parametrize(
    ("ci", "allowed", "outcome"),
    [
        ("true", "", {"errors": 1, "failed": 1}),  # unlisted skips fail in CI: a module's, a test's
        ("true", '"test_gone.py" = "an optional extra"\n"test_one.py::test_b" = "another extra"\n',
         {"skipped": 2}),
        ("", "", {"skipped": 2}),  # outside CI a skip stays a skip
    ],
)  # fmt: skip
def test_a_skip_in_ci_fails_unless_listed_with_its_reason(
    pytester, monkeypatch, ci, allowed, outcome
) -> None:
    conftest = (HERE / "conftest.py").read_text().replace('pytest_plugins = ["pytester"]', "")
    pytester.makeconftest(conftest.replace("from fixtures import make_capture", "make_capture = None  #"))
    (pytester.path / "skips.toml").write_text("[allowed]\n" + allowed)
    pytester.makepyfile(test_gone=SKIPPING, test_one=SKIPPING_ONE)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--continue-on-collection-errors")
    result.assert_outcomes(**outcome)
    if "failed" in outcome:
        result.stdout.fnmatch_lines(["*skipped in CI*a_module_that_is_not_installed*skips.toml*"])


def test_every_listed_skip_names_a_test_that_exists_and_says_why() -> None:
    from conftest import allowed_skips

    for node, reason in allowed_skips().items():
        assert (HERE.parent / node.split("::")[0]).is_file(), node
        assert len(reason.split()) >= 3, node
