"""Inverse kinematics throughput per core: our pipeline vs OpenSim's InverseKinematicsTool.

The same synthetic sequence (mocap joints with 1 mm noise) is fitted
- by ours: the batched Levenberg-Marquardt solver on our articulated model (43 solved coordinates,
  rhythms exact), in one process;
- by OpenSim's InverseKinematicsTool run the way the SIMSPINE scripts run it: markers written to a
  TRC file (OpenSim's TRCFileAdapter), a setup XML with the marker weights, accuracy 1e-5, infinite
  constraint weight, a .mot output; on our model in the reference's structure (five lumbar levels
  tied by CoordinateCouplerConstraints, rigid torso), and on our articulated model;
- by OpenSim's InverseKinematicsSolver fed from memory (``solve_ik_opensim``), for reference.
Printed: frames/s of each, the ratio ours / tool, and how far the solutions are apart.

    python benchmarks/bench_ik.py [--frames 300]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from simspine_dataset.biomech import osim as bo
from simspine_dataset.biomech.ik import MarkerObservations, solve_ik, solve_ik_opensim
from simspine_dataset.biomech.kinematics import KinematicModel, body_scale_factors, scale_spec
from simspine_dataset.biomech.model_table import model_spec as generic_spec
from simspine_dataset.biomech.observations import ik_observations
from simspine_dataset.synthetic.generator import CaptureSettings, simulate_take, subject_factors

SEED = 5


def model_spec(spine: str):
    """The model scaled to the benchmark's subject (everyone fits the same, correct model)."""
    spec = generic_spec(spine)
    return scale_spec(spec, body_scale_factors(spec, subject_factors("S1", SEED)))


def sequence(n_frames: int) -> np.ndarray:
    settings = CaptureSettings(subjects=("S1",), seconds=n_frames / 50.0, seed=SEED)
    _, joints, *_ = simulate_take("S1", "Phoning", 1, settings)
    return joints[:n_frames] + np.random.default_rng(0).normal(0.0, 1.0, joints[:n_frames].shape)


def run_tool(spec, obs: MarkerObservations, folder: Path) -> tuple[float, np.ndarray]:
    """SIMSPINE-style: TRC + setup XML + InverseKinematicsTool.run() -> (seconds, .mot coordinates)."""
    import opensim as osim

    model_path = bo.write_osim(bo.build_model(spec), folder / "model.osim")
    table = osim.TimeSeriesTableVec3()
    table.setColumnLabels(osim.StdVectorString(list(obs.names)))
    for t in range(obs.n_frames):
        row = osim.RowVectorVec3(len(obs.names), osim.Vec3(0))
        for k in range(len(obs.names)):
            row[k] = osim.Vec3(*map(float, obs.positions_m[t, k]))
        table.appendRow(t / obs.fps_hz, row)
    table.addTableMetaDataString("DataRate", str(obs.fps_hz))
    table.addTableMetaDataString("Units", "m")
    start = time.perf_counter()  # from here on, what the scripts do for every sequence
    osim.TRCFileAdapter.write(table, str(folder / "markers.trc"))
    tool = osim.InverseKinematicsTool()
    tool.set_model_file(str(model_path))
    tool.setMarkerDataFileName(str(folder / "markers.trc"))
    tool.setStartTime(0.0)
    tool.setEndTime((obs.n_frames - 1) / obs.fps_hz)
    tool.setOutputMotionFileName(str(folder / "ik.mot"))
    tool.set_accuracy(1e-5)
    tool.set_constraint_weight(math.inf)
    for name, weight in zip(obs.names, obs.weights[0], strict=True):
        task = osim.IKMarkerTask()
        task.setName(name)
        task.setApply(True)
        task.setWeight(float(weight))
        tool.getIKTaskSet().cloneAndAppend(task)
    tool.printToXML(str(folder / "setup_ik.xml"))
    osim.InverseKinematicsTool(str(folder / "setup_ik.xml")).run()
    seconds = time.perf_counter() - start
    motion = osim.TimeSeriesTable(str(folder / "ik.mot"))
    labels = list(motion.getColumnLabels())
    values = np.array(
        [[motion.getRowAtIndex(i)[j] for j in range(len(labels))] for i in range(motion.getNumRows())]
    )
    return seconds, dict(zip(labels, values.T, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    joints = sequence(args.frames)
    obs = ik_observations(joints)
    n = obs.n_frames

    ours_model = KinematicModel(model_spec("articulated"))
    solve_ik(ours_model, MarkerObservations(obs.names, obs.positions_m[:30], obs.weights[:30]))  # warm caches
    start = time.perf_counter()
    ours = solve_ik(ours_model, obs)
    ours_s = time.perf_counter() - start

    rows = [("ours, batched LM, articulated model (43 dof)", ours_s)]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for spine in ("rigid", "articulated"):
            folder = Path(tmp) / spine
            folder.mkdir()
            seconds, motion = run_tool(model_spec(spine), obs, folder)
            results[spine] = motion
            label = "5-level coupled lumbar, rigid torso" if spine == "rigid" else "our articulated model"
            rows.append((f"OpenSim InverseKinematicsTool, {label}", seconds))
    start = time.perf_counter()
    in_memory = solve_ik_opensim(
        bo.build_model(model_spec("articulated")), obs, coordinate_names=ours.coordinate_names
    )
    rows.append(("OpenSim InverseKinematicsSolver in memory, articulated", time.perf_counter() - start))

    print(
        f"{n} frames, one process each (OpenSim's IK is single-threaded; ours gains nothing from BLAS threads)"
    )
    for label, seconds in rows:
        print(f"  {label:62s} {n / seconds:8.1f} frames/s")
    tool_s = rows[1][1]
    print(f"ratio ours / InverseKinematicsTool (reference structure): {tool_s / ours_s:.1f}x")
    free = [i for i, c in enumerate(ours_model.spec.coordinates) if not c.locked]
    gap = ours.coordinates[:, free] - in_memory.coordinates[:, free]
    gap = np.abs((gap + 180.0) % 360.0 - 180.0)  # angles compared modulo a turn
    worst = int(np.argmax(gap.max(axis=0)))
    print(
        f"agreement ours vs OpenSim solver at SIMSPINE's accuracy 1e-5 (same model): max |dq| "
        f"{gap.max():.2f} deg ({ours.coordinate_names[free[worst]]}); median {np.median(gap):.3f} deg"
    )
    print(
        f"marker rmse: ours {np.nanmean(ours.marker_rmse_m) * 1e3:.3f} mm, "
        f"OpenSim solver {np.nanmean(in_memory.marker_rmse_m) * 1e3:.3f} mm (1 mm noise on the joints)"
    )
    mot = results["articulated"]
    lumbar = np.abs(np.asarray(mot["L5_S1_Flex_Ext"]) - ours.coordinate("L5_S1_Flex_Ext")).max()
    print(
        f"agreement ours vs InverseKinematicsTool .mot (same model): max |d L5_S1_Flex_Ext| {lumbar:.3f} deg"
    )


if __name__ == "__main__":
    main()
