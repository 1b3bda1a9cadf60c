"""``simspine export`` and ``simspine build --annotations``: a build written as the official
release's files, read back by OpenSim's own API, and built again from them (also from a 15-marker
TRC set, an h5 file and an MMPose npz written by our code), with the release's quirks."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from simspine_dataset import skeleton as sk
from simspine_dataset.commands.build import BuildConfig, build
from simspine_dataset.commands.export import export
from simspine_dataset.commands.validate import validate
from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

SETTINGS = CaptureSettings(
    subjects=("S1", "S9"), seconds=1.0, seed=12, actions=("Walking", "Photo"), videos=False, detections=False
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


def _axes(out) -> list[str]:
    return [a["name"] for a in json.loads((out / "meta" / "kinematic_axes.json").read_text())]


def _failed(checks) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in checks if c.status == "fail"]


def test_export_then_build_from_it_gives_the_same_rows(built, tmp_path) -> None:
    raw, out, release = built
    report = build(raw, tmp_path / "again", BuildConfig(check_videos=False, annotations=str(release)))
    assert all(e["status"] == "ok" for e in report.sequences)
    ours, theirs = _rows(out), _rows(tmp_path / "again")
    for name in ("subject", "action", "frame", "camera"):
        assert list(ours[name]) == list(theirs[name]), name
    assert np.abs(ours["keypoints_3d_world_mm"] - theirs["keypoints_3d_world_mm"]).max() < 1e-3
    mine, read = (_axes(folder) for folder in (out, tmp_path / "again"))
    assert set(mine) < set(read)  # and the coupler-dependent coordinates, as OpenSim writes a MOT
    same = [read.index(name) for name in mine]  # their coupled coordinates were radians: now degrees
    assert np.abs(ours["kinematics"] - theirs["kinematics"][:, same]).max() < 1e-4
    assert np.abs(ours["keypoints_2d_px"] - theirs["keypoints_2d_px"]).max() < 1e-3
    assert not _failed(validate(tmp_path / "again"))
    assert report.annotations["missing_keypoints"] == []
    card = (tmp_path / "again" / "README.md").read_text()
    assert (
        "official SIMSPINE release's labels" in card
        and "| Spine_01 | L5 | the official SIMSPINE release |" in card
    )


def _replay(model, state, storage, frame: int) -> None:
    """Set every coordinate the MOT holds, by name, as OpenSim's readers give it (radians)."""
    labels = storage.getColumnLabels()
    data = storage.getStateVector(frame).getData()
    coordinates = model.getCoordinateSet()
    for j in range(data.getSize()):
        coordinates.get(labels.get(j + 1)).setValue(state, data.get(j), False)
    model.realizePosition(state)


def test_opensim_reads_every_exported_file_and_the_mot_replays_to_the_trc(built) -> None:
    """OpenSim's own code only: ``Storage`` + ``convertDegreesToRadians`` (as the GUI and the tools
    read a MOT) applied to the exported ``.osim`` puts every model marker named like a TRC column
    on it: the model-derived keypoints within 0.1 mm, the Human3.6M joints within the build's IK
    residual (this capture is noise-free). 49caca7: Head 436 mm off (thoracic and neck coordinates
    read as radians), Hip 106.5 mm (another marker under that name)."""
    import opensim as osim

    _, out, release = built
    trcs = sorted(release.glob("positions/*/*.trc"))
    assert len(trcs) == len(json.loads((out / "build_report.json").read_text())["sequences"]) == 8
    assert "S1_Walking 1.trc" in {p.name for p in trcs}  # the raw name, space kept
    derived = {k.name for k in sk.KEYPOINTS if k.source != "mocap"}  # no detections: all model markers
    worst = {"derived": 0.0, "mocap": 0.0}
    for trc in trcs:
        subject = trc.parent.name
        calibration = tomllib.loads((release / "cameras" / f"Calib_{subject}.toml").read_text())
        assert len([t for t in calibration.values() if "matrix" in t]) == 4
        model = osim.Model(str(release / "models" / f"{subject}.osim"))
        state = model.initSystem()
        markers = osim.TimeSeriesTableVec3(str(trc))
        assert markers.getTableMetaDataAsString("Units") == "m" and markers.getNumColumns() == 37
        first_line = trc.read_text().split("\n")[0].split("\t")
        assert first_line[0] == "PathFileType" and first_line[3] == trc.name
        storage = osim.Storage(str(release / "kinematics" / subject / trc.stem / f"{trc.stem}.mot"))
        assert storage.isInDegrees() and storage.getSize() == markers.getNumRows()
        labels = storage.getColumnLabels()
        coordinates = model.getCoordinateSet()
        assert [labels.get(i) for i in range(1, labels.getSize())] == [
            coordinates.get(i).getName() for i in range(coordinates.getSize())
        ]  # every coordinate, the model's order, as OpenSim's IK tool writes them
        model.getSimbodyEngine().convertDegreesToRadians(storage)
        columns, marker_set = list(markers.getColumnLabels()), model.getMarkerSet()
        for t in range(markers.getNumRows()):
            _replay(model, state, storage, t)
            row = markers.getRowAtIndex(t)
            for k, name in enumerate(columns):
                at = marker_set.get(name).getLocationInGround(state)
                gap = max(abs(at.get(i) - row[k].get(i)) for i in range(3)) * 1000
                kind = "derived" if name in derived else "mocap"
                worst[kind] = max(worst[kind], gap)
    assert worst["derived"] < 0.1 and worst["mocap"] < 2.0, worst


def test_opensims_inverse_kinematics_matched_by_name_reproduces_the_exported_motion(built, tmp_path) -> None:
    """What every OpenSim user does with a release: ``InverseKinematicsTool`` on the exported model
    and TRC, every TRC marker a task of weight 1 (matched by name). Marker RMS < 1 mm and every
    coordinate within 0.5 deg / 1 mm of the exported MOT (49caca7: 22 mm RMS, 21 deg)."""
    import opensim as osim

    _, _, release = built
    trc = release / "positions" / "S9" / "S9_Walking 1.trc"
    model = osim.Model(str(release / "models" / "S9.osim"))
    model.initSystem()
    tool = osim.InverseKinematicsTool()
    tool.setModel(model)
    tool.setMarkerDataFileName(str(trc))
    tool.setStartTime(0.0)
    tool.setEndTime(10.0)  # the whole trial
    for name in osim.TimeSeriesTableVec3(str(trc)).getColumnLabels():
        task = osim.IKMarkerTask()
        task.setName(name)
        task.setWeight(1.0)
        tool.getIKTaskSet().cloneAndAppend(task)
    tool.set_accuracy(1e-6)
    tool.set_report_errors(True)
    tool.setResultsDir(str(tmp_path))
    tool.setOutputMotionFileName(str(tmp_path / "ik.mot"))
    assert tool.run()
    errors = osim.TimeSeriesTable(str(tmp_path / "_ik_marker_errors.sto"))
    assert errors.getDependentColumn("marker_error_RMS").to_numpy().max() < 1e-3
    fitted = osim.Storage(str(tmp_path / "ik.mot"))
    exported = osim.Storage(str(release / "kinematics" / "S9" / trc.stem / f"{trc.stem}.mot"))
    for storage in (fitted, exported):
        model.getSimbodyEngine().convertDegreesToRadians(storage)
    coordinates = model.getCoordinateSet()
    worst = {}
    for name in (coordinates.get(i).getName() for i in range(coordinates.getSize())):
        a, b = osim.ArrayDouble(), osim.ArrayDouble()
        fitted.getDataColumn(name, a)
        exported.getDataColumn(name, b)
        gap = max(abs(a.get(t) - b.get(t)) for t in range(a.getSize()))
        translational = coordinates.get(name).getMotionType() == 2
        worst[name] = gap * 1000 if translational else np.degrees(gap) / 0.5  # in units of the bound
    assert a.getSize() == exported.getSize()
    assert max(worst.values()) < 1.0, sorted(worst.items(), key=lambda x: -x[1])[:3]


def test_pose2sims_readers_take_the_exported_files(built, tmp_path) -> None:
    """Pose2Sim 0.10.49's own readers: ``read_trc``, ``convert_to_c3d`` (which failed on OpenSim's
    TRC layout: a tab ending every row) and ``retrieve_calib_params``."""
    common = pytest.importorskip("Pose2Sim.common", reason="pip install --no-deps pose2sim==0.10.49")
    from simspine_dataset.biomech.opensim_files import read_trc
    from simspine_dataset.io.pose2sim_calib import read_calibration

    _, _, release = built
    trc = tmp_path / "S1_Walking 1.trc"
    shutil.copyfile(release / "positions" / "S1" / trc.name, trc)
    data, frames, _, names, _ = common.read_trc(trc)
    ours = read_trc(trc)
    assert names == list(ours.names) and list(frames) == list(range(1, len(ours.points) + 1))
    assert np.allclose(data.to_numpy(float).reshape(len(frames), -1, 3), ours.points)
    import c3d

    with Path(common.convert_to_c3d(trc)).open("rb") as handle:
        reader = c3d.Reader(handle)
        points = np.array([p[:, :3] for _, p, _ in reader.read_frames()])
        labels = [label.strip() for label in reader.point_labels]
    assert labels == list(ours.names)
    assert np.abs(points / 1000 - ours.points).max() < 1e-3  # Pose2Sim writes whole millimetres
    calibration = release / "cameras" / "Calib_S1.toml"
    params = common.retrieve_calib_params(calibration)  # a str would be read as TOML text
    mine = read_calibration(calibration)
    assert len(params["K"]) == 4 and np.allclose(params["K"], [c.matrix for c in mine])
    assert np.allclose(np.ravel(params["T"]), np.ravel([c.translation_m for c in mine]))


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
    assert report.annotations["sequences_without_annotations"] == ["S9 Walking"]
    assert report.annotations["annotations_without_sequence"] == ["S1 Greeting 1"]
    assert "not in the annotations" in caplog.text and "not in the capture" in caplog.text
    assert "its header says 'mm', its data are read in m (decided from the body's size)" in caplog.text
    spine, mocap = list(sk.SPINE_SUBSET), [i for i, k in enumerate(sk.KEYPOINTS) if k.source == "mocap"]
    missing = sorted(set(range(37)) - set(spine) - set(mocap))
    assert report.annotations["missing_keypoints"] == [sk.NAMES[i] for i in missing]
    ours, theirs = _rows(out), _rows(tmp_path / "b")
    index = _by_key(ours)
    keys = list(_by_key(theirs))
    report_ours = json.loads((out / "build_report.json").read_text())["sequences"]
    gone = next((e["subject"], e["action"], e["subaction"]) for e in report_ours
                if (e["subject"], e["sequence"]) == ("S9", "Walking"))  # fmt: skip
    expected = [k for k in index if k[:3] != gone]
    assert sorted(keys) == sorted(expected)
    match = np.array([index[k] for k in keys])
    world, before = theirs["keypoints_3d_world_mm"], ours["keypoints_3d_world_mm"][match]
    assert np.abs(world[:, spine] - before[:, spine]).max() < 1e-3  # the release's (metres read as m)
    # the capture's mocap as it is; the build filtered it (noise-free here: by < 0.05 mm)
    assert np.abs(world[:, mocap] - before[:, mocap]).max() < 0.05
    assert np.isnan(world[:, missing]).all() and not theirs["keypoints_visible"][:, missing].any()
    assert not _failed(validate(tmp_path / "b"))
    assert "missing (NaN): not in the release's files" in (tmp_path / "b" / "README.md").read_text()


def _npz(path, rows: dict, out, camera_names: dict[str, str]) -> None:
    """An MMPose-style npz as the official preprocessing writes it (one row per frame and camera,
    world metres, image names from the calibration's camera names, 0-based frames, spaces kept)."""
    report = json.loads((out / "build_report.json").read_text())
    names = {(e["subject"], e["action"], e["subaction"]): e["sequence"] for e in report["sequences"]}
    axes = _axes(out)
    images = [
        f"{s}/{s}_{names[(s, a, b)]}.{camera_names[c]}/{s}_{names[(s, a, b)]}.{camera_names[c]}_{f:06d}.jpg"
        for s, a, b, c, f in zip(
            *(rows[n] for n in ("subject", "action", "subaction", "camera", "frame")), strict=True
        )
    ]
    world = np.concatenate([rows["keypoints_3d_world_mm"] / 1000, np.ones((len(images), 37, 1))], axis=-1)
    np.savez(
        path,
        imgname=np.array(images),
        S_world=world,
        angles=rows["kinematics"],
        metadata=np.array({"joint_names": list(sk.NAMES), "param_names": axes}, dtype=object),
    )


@pytest.mark.parametrize("prefix", ["", "cam_"])
def test_npz_annotations_named_from_the_exported_calibration_build_the_same_keypoints(
    built, tmp_path, prefix
) -> None:
    """The official preprocessing copies the calibration's camera names into image names: the
    export names cameras by their bare id (49caca7: ``cam_<id>``, which ``--annotations`` refused),
    and an npz so named builds the same keypoints (also one named from an older ``cam_<id>``)."""
    from simspine_dataset.io.pose2sim_calib import read_calibration

    raw, out, release = built
    rows = _rows(out)
    exported = {
        c.name for s in ("S1", "S9") for c in read_calibration(release / "cameras" / f"Calib_{s}.toml")
    }
    assert exported == set(rows["camera"])
    _npz(tmp_path / "simspine_train.npz", rows, out, {c: prefix + c for c in exported})
    build(raw, tmp_path / "b", BuildConfig(check_videos=False, annotations=str(tmp_path)))
    theirs = _rows(tmp_path / "b")
    assert np.abs(theirs["keypoints_3d_world_mm"] - rows["keypoints_3d_world_mm"]).max() < 1e-3


def test_npz_image_names_the_importer_cannot_read_are_named_with_the_pattern(built, tmp_path, capsys) -> None:
    from simspine_dataset.cli import main

    raw, out, _ = built
    rows = _rows(out)
    _npz(tmp_path / "simspine_train.npz", rows, out, {c: f"camera-{c}" for c in set(rows["camera"])})
    assert main(["build", str(raw), str(tmp_path / "b"), "--annotations", str(tmp_path), "--no-videos"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(tmp_path / "simspine_train.npz") in error
    assert "S1/S1_Directions 1.54138969/" in error and "--annotations reads the official" in error
    assert "simspine inspect" not in error


def test_the_length_unit_is_decided_from_the_data_and_a_wrong_one_is_named(tmp_path) -> None:
    from simspine_dataset.errors import BadArrayError
    from simspine_dataset.stages.annotations import length_unit_mm

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
    failed = [e for e in report.sequences if e["status"] != "ok"]
    assert [(e["subject"], e["sequence"]) for e in failed] == [("S1", "Walking 1")]
    assert str(trc) in failed[0]["error"] and "column labels" in failed[0]["error"]
    assert sum(e["status"] == "ok" for e in report.sequences) == 7


def test_trcs_without_kinematics_build_an_empty_kinematics_column(built, tmp_path) -> None:
    """The public release may ship TRCs alone: the rows are built, ``kinematics`` is an empty list
    per row, validate passes and the card says there are no kinematics."""
    from datasets import load_dataset

    raw, _, release = built
    shutil.copytree(release / "positions", tmp_path / "release" / "positions")
    report = build(
        raw, tmp_path / "b", BuildConfig(check_videos=False, annotations=str(tmp_path / "release"))
    )
    assert all(e["status"] == "ok" for e in report.sequences) and report.annotations["kinematics"] == 0
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
    assert len(first.annotations["sequences_without_annotations"]) == 1
    model = mine / "models" / "S1.osim"
    model.write_text(model.read_text().replace("<Model name=", "<!-- edited --><Model name=", 1))
    moved.rename(trc)
    again = build(raw, tmp_path / "b", config)
    assert again.annotations["sequences_without_annotations"] == []
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
    assert {e["status"] for e in report.sequences} == {"ok"}


def test_a_second_export_replaces_the_first_and_a_foreign_folder_is_refused(built, tmp_path) -> None:
    """An export replaces its folder as one unit: fewer subjects the second time leave only the
    second's files (49caca7 kept S9's, which a later ``--annotations`` build read as this one's)."""
    from simspine_dataset.errors import SimspineError

    raw, out, _ = built
    dest = tmp_path / "release"
    export(out, dest)
    assert {p.name for p in dest.glob("positions/*")} == {"S1", "S9"}
    build(raw, tmp_path / "s1", BuildConfig(check_videos=False, subjects=("S1",)))
    export(tmp_path / "s1", dest)
    assert {p.parent.name for p in dest.glob("positions/*/*.trc")} == {"S1"}
    assert {p.name for p in dest.glob("*/*") if p.is_dir() or p.suffix} >= {"S1", "S1.osim", "Calib_S1.toml"}
    assert not list(dest.rglob("*S9*")) and json.loads((dest / "export.json").read_text())["subjects"] == 1
    export(out, dest, "h5")  # another format: the folder holds that export only
    assert sorted(p.name for p in dest.iterdir()) == ["export.json", "models", "simspine.h5"]
    assert not list(tmp_path.glob(".release*"))  # no staging folder left
    foreign = tmp_path / "mine"
    (foreign / "notes.txt").parent.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(SimspineError, match=r"mine: holds files that no simspine export wrote"):
        export(out, foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_a_public_build_exports_the_official_public_markers_only(built, tmp_path) -> None:
    """The official public release has 15 spine-centric markers; ours holds 13 of them (Hip and
    Nose are Human3.6M's measured joints in our builds, hidden by its licence) and no foot points
    (49caca7: 19 markers, 6 foot points among them)."""
    from simspine_dataset.biomech.opensim_files import read_trc

    raw, _, _ = built
    build(raw, tmp_path / "public", BuildConfig(check_videos=False, subjects=("S9",), release="public"))
    export(tmp_path / "public", tmp_path / "release")
    names = {read_trc(p).names for p in (tmp_path / "release").glob("positions/*/*.trc")}
    assert names == {tuple(n for n in sk.SPINE_SUBSET_NAMES if n not in ("Hip", "Nose"))}


def test_a_user_model_mapping_gone_since_the_build_exports_the_models_as_they_are(tmp_path, caplog) -> None:
    from simspine_dataset.commands.export import _keypoint_sources
    from simspine_dataset.config import BuildConfig

    assert _keypoint_sources(BuildConfig(model=str(tmp_path / "gone.json"))) == {}
    assert "gone.json" in caplog.text and "exported as the model has them" in caplog.text
    ours = _keypoint_sources(BuildConfig())
    assert ours["Hip"] == "H36M_00" and len(ours) == sum(k.source == "mocap" for k in sk.KEYPOINTS)
