"""The Hub round trip the baselines depend on: ``simspine publish`` to the loopback Hub stub, then
``load_dataset("<org>/<name>")`` (default and ``frames`` configs, also streaming) and the
triangulation and lifting evaluations on the repo id give what the local folder gives. Each step
runs in a subprocess with ``HF_ENDPOINT`` set, the real ``datasets`` and ``huggingface_hub`` code.
What the stub does not cover (LFS / Xet transfers, pagination): ``tests/hub_stub.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fixtures import frames_build
from hub_stub import HubStub

TOKEN = "hf_simspineREADtoken456"
REPO, PRIVATE = "lab/simspine", "lab/simspine-private"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A build with frames, published gated to ``REPO`` and privately to ``PRIVATE``."""
    root = tmp_path_factory.mktemp("hub")
    folder = frames_build(root, seconds=0.4, seed=8, stride=5, size_px=64)
    with HubStub() as stub:
        stub.tokens.add(TOKEN)
        for repo, flag in ((REPO, "--gated"), (PRIVATE, "--private")):
            done = _run(
                stub, root, ["-m", "simspine_dataset", "publish", str(folder), "--repo-id", repo, flag]
            )
            assert done.returncode == 0, done.stderr
        yield stub, folder, root


def _run(stub: HubStub, root, argv: list[str], token: str | None = TOKEN) -> subprocess.CompletedProcess:
    """``python argv`` against the stub: no cached login, a fresh datasets cache per call."""
    cache = root / f"cache-{len(list(root.glob('cache-*')))}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {
        "HF_ENDPOINT": stub.endpoint,
        "HF_HOME": str(cache / "home"),
        "HF_DATASETS_CACHE": str(cache / "ds"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env=env, timeout=300, check=False
    )


COMPARE = """
import json, sys
from datasets import load_dataset
repo, folder = sys.argv[1], sys.argv[2]
out = {}  # rows compared by repr: NaN (a build without detections) equals NaN
for config in ("default", "frames"):
    hub, local = load_dataset(repo, config), load_dataset(folder, config)
    rows = lambda ds: (ds.features, repr(ds.data.table.to_pylist()))
    same = lambda split: rows(hub[split]) == rows(local[split])
    out[config] = {split: [hub[split].num_rows, same(split)] for split in local}
stream = load_dataset(repo, split="test", streaming=True)
local = load_dataset(folder, split="test")
rows = list(stream)
out["streaming"] = [len(rows), all(rows[i]["keypoints_3d_world_mm"] == local[i]["keypoints_3d_world_mm"]
                                   and rows[i]["frame"] == local[i]["frame"] for i in range(len(rows)))]
print(json.dumps(out))
"""


def test_load_dataset_by_repo_id_serves_what_was_uploaded(hub) -> None:
    stub, folder, root = hub
    done = _run(stub, root, ["-c", COMPARE, REPO, str(folder)])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    report = json.loads((folder / "build_report.json").read_text())
    for config, rows in (("default", report["rows"]), ("frames", report["frames_rows"])):
        assert result[config] == {split: [n, True] for split, n in rows.items()}, config
    assert result["streaming"] == [report["rows"]["test"], True]
    assert any("/resolve/" in p for p in stub.reads) and any("/tree/" in p for p in stub.reads)


def test_the_baselines_evaluate_the_repo_id_like_the_local_folder(hub, tmp_path) -> None:
    stub, folder, root = hub
    tables = {}
    for name, dataset in (("hub", REPO), ("local", str(folder))):
        done = _run(
            stub, root, ["-m", "baselines.triangulation", "--dataset", dataset, "--out", str(tmp_path / name)]
        )
        assert done.returncode == 0, done.stderr[-3000:]
        tables[name] = (tmp_path / name / "results.md").read_text()
    assert tables["hub"] == tables["local"] and "MPJPE" in tables["hub"]
    train = [
        "-m",
        "baselines.lifting.train",
        "--dataset",
        str(folder),
        "--out",
        str(tmp_path / "lifter"),
        "--epochs",
        "1",
        "--width",
        "32",
        "--blocks",
        "1",
        "--device",
        "cpu",
    ]
    assert (done := _run(stub, root, train)).returncode == 0, done.stderr[-3000:]
    checkpoint = next((tmp_path / "lifter").glob("*.pt"))
    for name, dataset in (("hub", REPO), ("local", str(folder))):
        evaluate = [
            "-m",
            "baselines.lifting.evaluate",
            "--checkpoint",
            str(checkpoint),
            "--dataset",
            dataset,
            "--out",
            str(tmp_path / f"lifting-{name}"),
        ]
        assert (done := _run(stub, root, evaluate)).returncode == 0, done.stderr[-3000:]
    lifting = [(tmp_path / f"lifting-{n}" / "results.md").read_text() for n in ("hub", "local")]
    assert lifting[0] == lifting[1] and "P-MPJPE" in lifting[0]


def test_gated_and_private_repos_need_a_token_and_say_so(hub) -> None:
    stub, _, root = hub
    load = "import sys; from datasets import load_dataset; print(load_dataset(sys.argv[1], split='test'))"
    gated = _run(stub, root, ["-c", load, REPO], token=None)
    assert gated.returncode != 0 and "gated" in gated.stderr and "authenticated" in gated.stderr
    private = _run(stub, root, ["-c", load, PRIVATE], token=None)
    assert private.returncode != 0 and "lab/simspine-private" in private.stderr
    assert "cannot be accessed" in private.stderr or "doesn't exist" in private.stderr
    assert _run(stub, root, ["-c", load, PRIVATE]).returncode == 0
    wrong = _run(stub, root, ["-c", load, REPO], token="hf_wrong")
    assert wrong.returncode != 0 and "gated" in wrong.stderr


RECORD = """
import json, sys
from simspine_dataset.errors import SimspineError
from simspine_dataset.loader import dataset_stats
from simspine_dataset.record import build_file, read_record
repo, folder = sys.argv[1], sys.argv[2]
hub, local = dataset_stats(repo, "test"), dataset_stats(folder, "test")
same = all((hub[c][k] == local[c][k]).all() for c in local for k in ("count", "mean", "std"))
try:
    build_file(repo, "meta/absent.json")
    absent = "served"
except SimspineError as e:
    absent = str(e)
rows = read_record(repo).rows == read_record(folder).rows
print(json.dumps({"stats": same, "rows": rows, "absent": absent}))
"""


def test_the_record_and_the_statistics_read_from_the_repo_id_like_the_folder(hub) -> None:
    stub, folder, root = hub
    done = _run(stub, root, ["-c", RECORD, REPO, str(folder)])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["stats"] and result["rows"], result
    assert result["absent"].startswith(f"{REPO}: no meta/absent.json in this dataset repo"), result
