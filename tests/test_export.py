"""``simspine export`` and ``simspine build --annotations``: a build written as the official
release's files, read back by OpenSim's own API, and built again from them (also from a 15-marker
TRC set, an h5 file and an MMPose npz written by our code), with the release's quirks."""

from __future__ import annotations

import json
import shutil
import tomllib

import numpy as np
import pyarrow.parquet as pq
import pytest

from simspine_dataset import skeleton as sk
from simspine_dataset.build import BuildConfig, build
from simspine_dataset.export import export
from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture
from simspine_dataset.validate import validate

SETTINGS = CaptureSettings(
    subjects=("S1", "S9"), seconds=0.3, seed=12, actions=("Walking", "Photo"), videos=False, detections=False
)
MOCAP_ONLY = BuildConfig(check_videos=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    raw = generate_capture(root / "raw", SETTINGS)
    build(raw, root / "build", MOCAP_ONLY)
    export(root / "build", root / "release")
    return raw, root / "build", root / "release"


def _rows(out) -> dict[str, np.ndarray]:
    """The default config's rows as numpy, read with the package's Arrow-to-numpy (``loader``)."""
    from datasets import Features

    from simspine_dataset.loader import column_to_numpy

    table = pq.read_table(sorted(out.glob("data/default/*/*.parquet")))
    features = Features.from_arrow_schema(table.schema)
    names = ("subject", "action", "subaction", "frame", "camera", "keypoints_3d_world_mm", "keypoints_2d_px",
             "keypoints_visible", "kinematics")  # fmt: skip
    return {n: column_to_numpy(table.column(n), features[n]) for n in names}


def _failed(checks) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in checks if c.status == "fail"]


def test_export_then_build_from_it_gives_the_same_rows(built, tmp_path) -> None:
    raw, out, release = built
    report = build(raw, tmp_path / "again", BuildConfig(check_videos=False, annotations=str(release)))
    assert all(e["status"] == "ok" for e in report["sequences"])
    ours, theirs = _rows(out), _rows(tmp_path / "again")
    for name in ("subject", "action", "frame", "camera"):
        assert list(ours[name]) == list(theirs[name]), name
    assert np.abs(ours["keypoints_3d_world_mm"] - theirs["keypoints_3d_world_mm"]).max() < 1e-3
    assert np.abs(ours["kinematics"] - theirs["kinematics"]).max() < 1e-4
    assert np.abs(ours["keypoints_2d_px"] - theirs["keypoints_2d_px"]).max() < 1e-3
    assert not _failed(validate(tmp_path / "again"))
    assert report["annotations"]["missing_keypoints"] == []
    card = (tmp_path / "again" / "README.md").read_text()
    assert (
        "official SIMSPINE release's labels" in card
        and "| Spine_01 | L5 | the official SIMSPINE release |" in card
    )


def test_opensim_reads_every_exported_file_and_the_mot_replays_to_the_trc(built) -> None:
    """OpenSim's own readers open each file; setting the .mot's coordinates on the .osim gives the
    TRC's model-derived markers."""
    import opensim as osim

    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.biomech.osim import marker_positions, set_pose

    _, out, release = built
    trcs = sorted(release.glob("positions/*/*.trc"))
    assert len(trcs) == len(json.loads((out / "build_report.json").read_text())["sequences"]) == 8
    assert "S1_Walking 1.trc" in {p.name for p in trcs}  # the raw name, space kept
    spec = model_spec()
    simulated = [k.name for k in sk.KEYPOINTS if k.source == "simulated"]
    for subject in ("S1", "S9"):
        calibration = tomllib.loads((release / "cameras" / f"Calib_{subject}.toml").read_text())
        assert len([t for t in calibration.values() if "matrix" in t]) == 4
        model = osim.Model(str(release / "models" / f"{subject}.osim"))
        state = model.initSystem()
        trc = next(p for p in trcs if p.parent.name == subject)
        markers = osim.TimeSeriesTableVec3(str(trc))
        assert markers.getTableMetaDataAsString("Units") == "m" and markers.getNumColumns() == 37
        first_line = trc.read_text().split("\n")[0].split("\t")
        assert first_line[0] == "PathFileType" and first_line[3] == trc.name
        mot = release / "kinematics" / subject / trc.stem / f"{trc.stem}.mot"
        storage = osim.Storage(str(mot))
        assert storage.isInDegrees() and storage.getSize() == markers.getNumRows()
        labels = storage.getColumnLabels()
        names = [labels.get(i) for i in range(1, labels.getSize())]
        assert names == [c.name for c in spec.coordinates]
        columns = list(markers.getColumnLabels())
        worst = 0.0
        for t in range(0, markers.getNumRows(), 5):
            data = storage.getStateVector(t).getData()
            set_pose(model, state, spec, np.array([data.get(j) for j in range(data.getSize())]))
            replayed = marker_positions(model, state, simulated)
            row = markers.getRowAtIndex(t)
            stored = np.array([[row[columns.index(n)].get(i) for i in range(3)] for n in simulated])
            worst = max(worst, float(np.abs(replayed - stored).max()))
        assert worst < 1e-4, f"{trc.name}: replay differs by {worst * 1000:.4f} mm"


def test_h5_export_builds_back_the_same_keypoints(built, tmp_path) -> None:
    raw, out, _ = built
    export(out, tmp_path / "h5", "h5")
    build(
        raw,
        tmp_path / "again",
        BuildConfig(check_videos=False, annotations=str(tmp_path / "h5" / "simspine.h5")),
    )
    ours, theirs = _rows(out), _rows(tmp_path / "again")
    assert np.abs(ours["keypoints_3d_world_mm"] - theirs["keypoints_3d_world_mm"]).max() < 1e-3
    assert np.abs(ours["kinematics"] - theirs["kinematics"]).max() < 1e-4


def _public_15(release, dest) -> None:
    """The public release's form: the 15 spine-centric markers only, and the final TRCs' header
    quirk (``Units mm`` over metre data)."""
    from simspine_dataset.biomech.opensim_files import read_trc, write_trc

    shutil.copytree(release / "kinematics", dest / "kinematics")
    for path in release.glob("positions/*/*.trc"):
        table = read_trc(path)
        keep = [table.names.index(n) for n in sk.SPINE_SUBSET_NAMES]
        target = dest / "positions" / path.parent.name / path.name
        write_trc(target, list(sk.SPINE_SUBSET_NAMES), table.points[:, keep], 50.0)
        target.write_text(target.read_text().replace("\tm\t", "\tmm\t", 1))


def _by_key(rows: dict[str, np.ndarray]) -> dict[tuple, int]:
    keys = zip(rows["subject"], rows["action"], rows["subaction"], rows["frame"], rows["camera"], strict=True)
    return {key: i for i, key in enumerate(keys)}


def test_a_15_marker_set_with_a_wrong_unit_header_and_unmatched_trials(built, tmp_path, caplog) -> None:
    raw, out, release = built
    public = tmp_path / "public"
    _public_15(release, public)
    assert "\tmm\t" in next(public.glob("positions/*/*.trc")).read_text().split("\n")[2]
    (public / "positions" / "S9" / "S9_Walking.trc").unlink()  # a raw sequence the labels lack
    extra = public / "positions" / "S1" / "S1_Greeting 1.trc"  # labels of a sequence not in RAW
    shutil.copyfile(public / "positions" / "S1" / "S1_Walking 1.trc", extra)
    report = build(raw, tmp_path / "b", BuildConfig(check_videos=False, annotations=str(public)))
    assert report["annotations"]["sequences_without_annotations"] == ["S9 Walking"]
    assert report["annotations"]["annotations_without_sequence"] == ["S1 Greeting 1"]
    assert "not in the annotations" in caplog.text and "not in the capture" in caplog.text
    assert "its header says 'mm', its data are read in m (decided from the body's size)" in caplog.text
    spine, mocap = list(sk.SPINE_SUBSET), [i for i, k in enumerate(sk.KEYPOINTS) if k.source == "mocap"]
    missing = sorted(set(range(37)) - set(spine) - set(mocap))
    assert report["annotations"]["missing_keypoints"] == [sk.NAMES[i] for i in missing]
    ours, theirs = _rows(out), _rows(tmp_path / "b")
    index = _by_key(ours)
    keys = list(_by_key(theirs))
    report_ours = json.loads((out / "build_report.json").read_text())["sequences"]
    gone = next((e["subject"], e["action"], e["subaction"]) for e in report_ours
                if (e["subject"], e["sequence"]) == ("S9", "Walking"))  # fmt: skip
    expected = [k for k in index if k[:3] != gone]
    assert sorted(keys) == sorted(expected)
    match = np.array([index[k] for k in keys])
    known = spine + mocap  # the release's spine markers (metre data read as metres), the capture's mocap
    world = theirs["keypoints_3d_world_mm"]
    assert np.abs(world[:, known] - ours["keypoints_3d_world_mm"][match][:, known]).max() < 1e-3
    assert np.isnan(world[:, missing]).all() and not theirs["keypoints_visible"][:, missing].any()
    assert not _failed(validate(tmp_path / "b"))
    assert "missing (NaN): not in the release's files" in (tmp_path / "b" / "README.md").read_text()


def test_npz_annotations_build_the_same_keypoints(built, tmp_path) -> None:
    """The MMPose-style npz (one row per frame and camera, world metres, 0-based frame in the image
    name, spaces kept): each frame's world points read once."""
    raw, out, _ = built
    rows = _rows(out)
    report = json.loads((out / "build_report.json").read_text())
    names = {(e["subject"], e["action"], e["subaction"]): e["sequence"] for e in report["sequences"]}
    axes = json.loads((out / "meta" / "kinematic_axes.json").read_text())
    images = [
        f"{s}/{s}_{names[(s, a, b)]}.{c}/{s}_{names[(s, a, b)]}.{c}_{f:06d}.jpg"
        for s, a, b, c, f in zip(
            *(rows[n] for n in ("subject", "action", "subaction", "camera", "frame")), strict=True
        )
    ]
    world = np.concatenate([rows["keypoints_3d_world_mm"] / 1000, np.ones((len(images), 37, 1))], axis=-1)
    np.savez(
        tmp_path / "simspine_train.npz",
        imgname=np.array(images),
        S_world=world,
        angles=rows["kinematics"],
        metadata=np.array(
            {"joint_names": list(sk.NAMES), "param_names": [a["name"] for a in axes]}, dtype=object
        ),
    )
    build(raw, tmp_path / "b", BuildConfig(check_videos=False, annotations=str(tmp_path)))
    theirs = _rows(tmp_path / "b")
    assert np.abs(theirs["keypoints_3d_world_mm"] - rows["keypoints_3d_world_mm"]).max() < 1e-3


def test_the_length_unit_is_decided_from_the_data_and_a_wrong_one_is_named(tmp_path) -> None:
    from simspine_dataset.annotations import length_unit_mm
    from simspine_dataset.errors import BadArrayError

    body = np.zeros((4, 2, 3))
    body[:, 1, 1] = 1.7  # a standing adult, head over heels
    spine = body * 0.45  # the public 15 spine-centric keypoints: pelvis to head, seated
    for points in (body, spine):
        assert length_unit_mm(points, "x.trc") == 1000.0
        assert length_unit_mm(points * 100, "x.trc") == 10.0  # centimetres
        assert length_unit_mm(points * 1000, "x.trc") == 1.0
    for extent in (300, 10, 5000):  # between cm and mm, between m and cm, too large for mm
        with pytest.raises(BadArrayError, match=rf"x\.trc.*spans {extent}.*--annotations-unit"):
            length_unit_mm(body / 1.7 * extent, tmp_path / "x.trc")


def test_a_broken_release_file_fails_its_sequence_only_and_names_the_file(built, tmp_path) -> None:
    raw, _, release = built
    broken = tmp_path / "release"
    shutil.copytree(release, broken)
    trc = broken / "positions" / "S1" / "S1_Walking 1.trc"
    trc.write_text(trc.read_text()[:300])  # cut inside the header
    report = build(raw, tmp_path / "b", BuildConfig(check_videos=False, annotations=str(broken)))
    failed = [e for e in report["sequences"] if e["status"] != "ok"]
    assert [(e["subject"], e["sequence"]) for e in failed] == [("S1", "Walking 1")]
    assert str(trc) in failed[0]["error"] and "column labels" in failed[0]["error"]
    assert sum(e["status"] == "ok" for e in report["sequences"]) == 7


def test_trcs_without_kinematics_build_an_empty_kinematics_column(built, tmp_path) -> None:
    """The public release may ship TRCs alone: the rows are built, ``kinematics`` is an empty list
    per row, validate passes and the card says there are no kinematics."""
    from datasets import load_dataset

    raw, _, release = built
    shutil.copytree(release / "positions", tmp_path / "release" / "positions")
    report = build(
        raw, tmp_path / "b", BuildConfig(check_videos=False, annotations=str(tmp_path / "release"))
    )
    assert all(e["status"] == "ok" for e in report["sequences"]) and report["annotations"]["kinematics"] == 0
    assert load_dataset(str(tmp_path / "b"), split="test")[0]["kinematics"] == []
    assert not _failed(validate(tmp_path / "b"))
    card = (tmp_path / "b" / "README.md").read_text()
    assert "The release gave no kinematics" in card and "Not computed: the curvature definitions" in card


def test_validate_fails_a_build_with_no_rows(built, tmp_path) -> None:
    raw, _, release = built
    (tmp_path / "empty" / "positions" / "S1").mkdir(parents=True)
    trc = next(release.glob("positions/S1/*.trc"))
    (tmp_path / "empty" / "positions" / "S1" / trc.name).write_text("not a TRC")
    build(
        raw,
        tmp_path / "b",
        BuildConfig(check_videos=False, subjects=("S1",), annotations=str(tmp_path / "empty")),
    )
    counts = next(c for c in validate(tmp_path / "b") if c.name == "counts")
    assert counts.status == "fail" and "nothing was built" in counts.detail


def test_a_rebuild_sees_changed_and_added_release_files(built, tmp_path) -> None:
    """In one process: a release model replaced since the last build is copied again, and a
    trial's file removed and put back is found again (the folder is indexed anew per build)."""
    raw, _, release = built
    mine = tmp_path / "release"
    shutil.copytree(release, mine)
    config = BuildConfig(check_videos=False, subjects=("S1",), annotations=str(mine))
    trc = next(mine.glob("positions/S1/*.trc"))
    moved = tmp_path / trc.name
    trc.rename(moved)
    first = build(raw, tmp_path / "b", config)
    assert len(first["annotations"]["sequences_without_annotations"]) == 1
    model = mine / "models" / "S1.osim"
    model.write_text(model.read_text().replace("<Model name=", "<!-- edited --><Model name=", 1))
    moved.rename(trc)
    again = build(raw, tmp_path / "b", config)
    assert again["annotations"]["sequences_without_annotations"] == []
    assert (tmp_path / "b" / "models" / "S1.osim").read_text() == model.read_text()


@pytest.mark.parametrize(("unit", "per_metre"), [("cm", 100.0), ("mm", 1000.0)])
def test_annotations_in_centimetres_and_millimetres_give_the_same_labels(built, tmp_path, unit, per_metre):
    """The release's TRCs rewritten in another unit (the header still says metres): the unit comes
    from the body's size, so the labels are the metre files' (49caca7 read centimetres as mm: 10x
    too small)."""
    from simspine_dataset.biomech.opensim_files import read_trc, write_trc

    raw, out, release = built
    scaled = tmp_path / "release"
    shutil.copytree(release, scaled)
    for trc in scaled.glob("positions/*/*.trc"):
        table = read_trc(trc)
        write_trc(trc, list(table.names), table.points * per_metre, table.rate_hz)
    build(raw, tmp_path / "b", BuildConfig(check_videos=False, annotations=str(scaled)))
    ours, theirs = _rows(out), _rows(tmp_path / "b")
    assert np.abs(ours["keypoints_3d_world_mm"] - theirs["keypoints_3d_world_mm"]).max() < 1e-3


def test_an_annotation_unit_the_data_cannot_tell_is_refused_and_can_be_given(built, tmp_path) -> None:
    from simspine_dataset.biomech.opensim_files import read_trc, write_trc
    from simspine_dataset.cli import main

    raw, _, release = built
    odd = tmp_path / "release"
    shutil.copytree(release, odd)
    for trc in odd.glob("positions/*/*.trc"):  # a body spanning 300 units: 3 m in cm or 0.3 m in mm
        table = read_trc(trc)
        extent = np.nanmedian(np.nanmax(np.nanmax(table.points, 1) - np.nanmin(table.points, 1), -1))
        write_trc(trc, list(table.names), table.points * (300.0 / extent), table.rate_hz)
    assert main(["build", str(raw), str(tmp_path / "b"), "--annotations", str(odd), "--no-videos"]) == 1
    report = json.loads((tmp_path / "b" / "build_report.json").read_text())
    errors = {e["error"] for e in report["sequences"]}
    assert all("--annotations-unit" in e and ".trc" in e for e in errors), errors
    config = BuildConfig(check_videos=False, annotations=str(odd), annotations_unit="cm")
    report = build(raw, tmp_path / "c", config)  # taken as cm, as the user said
    assert {e["status"] for e in report["sequences"]} == {"ok"}
