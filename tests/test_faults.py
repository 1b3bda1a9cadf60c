"""What users and machines do to a build folder, and what is kept (``docs/reliability.md``): an
interruption after the new shards exist, bytes changed on disk after a first ``validate``, images
cut short, a smaller rebuild's stale models. Each of these was served or passed by 49caca7."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from simspine_dataset.commands.build import BuildConfig, build
from simspine_dataset.commands.validate import validate
from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

SETTINGS = CaptureSettings(
    subjects=("S1", "S9"), seconds=0.3, seed=31, actions=("Walking",), detections=False
)


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    return generate_capture(tmp_path_factory.mktemp("faults") / "raw", SETTINGS)


@pytest.fixture(scope="module")
def built(capture, tmp_path_factory):
    out = tmp_path_factory.mktemp("faults_build") / "out"
    build(capture, out, BuildConfig(frames=_frames()))
    return out


def _frames():
    from simspine_dataset.config import FramesConfig

    return FramesConfig("crop", stride=5, size_px=64)


def _failed(out) -> dict[str, str]:
    return {c.name: c.detail for c in validate(out) if not c.ok}


def test_an_interrupted_card_leaves_the_previous_build_loadable_and_a_rerun_repairs(
    capture, built, tmp_path, monkeypatch
) -> None:
    """A rebuild (other subjects) interrupted while its card renders: 49caca7 had already swapped
    the shards, so load_dataset and validate failed with FileNotFoundError."""
    from datasets import load_dataset

    from simspine_dataset.commands import card

    out = tmp_path / "out"
    shutil.copytree(built, out)
    before = load_dataset(str(out), split="test").num_rows

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(card, "render_card", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(capture, out, BuildConfig(subjects=("S9",), frames=_frames()))
    monkeypatch.undo()
    assert load_dataset(str(out), split="test", download_mode="force_redownload").num_rows == before
    assert "interrupted build" in _failed(out)["files"]  # the report is the new build's: said so
    build(capture, out, BuildConfig(subjects=("S9",), frames=_frames()))
    assert not _failed(out)
    assert set(load_dataset(str(out), download_mode="force_redownload")) == {"test"}


def test_validate_reads_the_bytes_on_disk_every_time(built, tmp_path) -> None:
    """4 KB flipped in a shard, size and modification time kept, after a first validate: 49caca7
    passed it from the datasets cache; and another build's shard copied over one."""
    out = tmp_path / "out"
    shutil.copytree(built, out)
    assert not _failed(out)
    shard = sorted(out.glob("data/default/train/*.parquet"))[0]
    stat = shard.stat()
    data = bytearray(shard.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(b ^ 0xFF for b in data[middle : middle + 4096])
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "its bytes do not hash to the digest in its name" in _failed(out)["files"]
    shutil.copytree(built, tmp_path / "other")
    (tmp_path / "other" / shard.relative_to(out)).unlink()
    test_shard = next((tmp_path / "other").glob("data/default/test/*.parquet"))
    shutil.copy(test_shard, tmp_path / "other" / shard.relative_to(out))  # another shard under its name
    assert "its bytes do not hash" in _failed(tmp_path / "other")["files"]


def test_validate_decodes_every_image(built, tmp_path) -> None:
    """A frames shard whose later JPEGs are cut short: 49caca7 decoded only each shard's first."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from fixtures import reseal

    out = tmp_path / "out"
    shutil.copytree(built, out)
    shard = sorted(out.glob("data/frames/train/*.parquet"))[0]
    table = pq.read_table(shard)
    images = table.column("image").to_pylist()
    images[-1] = {**images[-1], "bytes": images[-1]["bytes"][: len(images[-1]["bytes"]) // 2]}
    column = pa.array(images, type=table.schema.field("image").type)
    pq.write_table(table.set_column(table.schema.get_field_index("image"), "image", column), shard)
    reseal(out)
    failed = _failed(out)
    assert list(failed) == ["frames images"] and "1 wrong" in failed["frames images"]
    checks = {c.name: c for c in validate(built)}
    frames_rows = sum(json.loads((built / "build_report.json").read_text())["frames_rows"].values())
    assert f"{frames_rows:,} images decoded" in checks["frames images"].detail


def test_a_smaller_rebuild_removes_the_models_of_subjects_it_no_longer_holds(
    capture, built, tmp_path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(built, out)
    build(capture, out, BuildConfig(subjects=("S1",), check_videos=False))
    assert sorted(p.name for p in (out / "models").iterdir()) == ["S1.osim"]


RECORD = '"config_hash": "x", "rows": {}, "sequences": []'


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{}", "format version 1"),
        ("[]", "not a build record"),
        ("not json", "not readable as JSON"),
        ('{"format_version": 99, "config": {}, ' + RECORD + "}", "format version 99"),
        ('{"format_version": 2, ' + RECORD + "}", "lacks config"),
        ('{"format_version": 2, "config": {"simulation": {"filter": {"space": "x"}}}, ' + RECORD + "}",
         "setting filter.space = 'x' is invalid"),
    ],
)  # fmt: skip
def test_a_broken_report_is_one_line_for_every_command(built, tmp_path, capsys, content, says) -> None:
    from simspine_dataset.cli import main

    out = tmp_path / "out"
    shutil.copytree(built, out)
    (out / "build_report.json").write_text(content)
    for command in (["validate", str(out)], ["card", str(out)], ["export", str(out), str(tmp_path / "e")]):
        assert main(command) == 2, command
        err = capsys.readouterr().err.strip()
        assert err.startswith("simspine: error: ") and "build_report.json" in err and "\n" not in err
        assert says in err, err


def test_a_malformed_card_is_one_line_for_validate(built, tmp_path, capsys) -> None:
    from simspine_dataset.cli import main

    out = tmp_path / "out"
    shutil.copytree(built, out)
    card = out / "README.md"
    card.write_text(card.read_text().replace("configs:", "configs: [", 1))
    assert main(["validate", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simspine: error: ") and "README.md" in err and "\n" not in err


def test_publish_to_an_unreachable_endpoint_is_one_line_and_leaves_the_card(built, tmp_path) -> None:
    import subprocess
    import sys

    card = (built / "README.md").read_bytes()
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env |= {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_x"}
    command = [sys.executable, "-m", "simspine_dataset", "publish", str(built), "--repo-id", "a/b", "--gated"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert (
        lines[-1].startswith("simspine: error: http://127.0.0.1:9: publishing a/b failed") and len(lines) == 1
    )
    assert (built / "README.md").read_bytes() == card  # 49caca7 rewrote the local card first


def test_bad_command_line_inputs_are_one_line(capture, tmp_path, capsys) -> None:
    from simspine_dataset.cli import main

    demo = ["capture-demo", str(tmp_path / "c")]
    public = ["build", str(capture), str(tmp_path / "o"), "--release", "public", "--frames", "crop"]
    for args in ([*demo, "--seconds", "inf"], [*demo, "--mocap-noise-mm", "nan"], public):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("simspine: error: ") and "\n" not in err, err
    assert not (tmp_path / "c").exists()  # nothing written


def test_an_output_folder_inside_the_capture_is_not_a_subject(capture, tmp_path) -> None:
    """A build written to RAW/S10: 49caca7 then took S10 for a subject without mocap and every later
    build of RAW failed it."""
    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    build(raw, raw / "S10", BuildConfig(check_videos=False))
    report = build(raw, tmp_path / "out", BuildConfig(check_videos=False))
    assert {e["status"] for e in report.sequences} == {"ok"}


def test_a_capture_without_sequences_is_an_error(tmp_path, capsys) -> None:
    from simspine_dataset.cli import main
    from simspine_dataset.io.h36m_metadata import write_metadata

    write_metadata(tmp_path / "raw" / "metadata.xml", [], {})
    assert main(["build", str(tmp_path / "raw"), str(tmp_path / "out")]) == 2
    assert "holds no sequences" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("<item>54138969</item>", "<item/>", 1), "index2id"),
        (lambda t: t.replace("<w0>[", "<w0>[x ", 1), "<w0> holds a value that is not a number"),
    ],
)
def test_a_broken_metadata_file_names_itself(capture, tmp_path, capsys, change, message) -> None:
    from simspine_dataset.cli import main

    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    (raw / "metadata.xml").write_text(change((raw / "metadata.xml").read_text()))
    assert main(["inspect", str(raw)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"simspine: error: {raw / 'metadata.xml'}: ") and message in err
