"""The ``simspine`` command: one subcommand per job (README, "Quick start" and "Using a real
Human3.6M download"; ``simspine --help`` lists them).

Each subcommand parses its arguments and calls one library function; nothing else lives here. An
expected failure is one line on stderr and exit status 2 (a traceback with ``-v``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from simspine_dataset import __version__
from simspine_dataset.h36m import ACTIONS
from simspine_dataset.synthetic import DEMO_SUBJECTS, TRUTH_MODELS

if TYPE_CHECKING:
    from simspine_dataset.record import BuildRecord
    from simspine_dataset.stages.detect import VideoResult

log = logging.getLogger("simspine")


def _inspect(args: argparse.Namespace) -> int:
    """Discover a raw capture and print its sequences and every problem found: exit status 1 when a
    problem leaves a sequence out (known problems of the official download and short videos are
    built around: listed, status 0)."""
    from simspine_dataset.stages.capture import discover

    capture = discover(args.raw, args.subjects, check_videos=not args.no_videos, read_mocap=True)
    print(f"{'subject':8} {'action':13} {'sub':>3} {'frames':>7} {'cams':>4}  sequence")
    for s in capture.sequences:
        print(
            f"{s.subject:8} {s.action:13} {s.subaction:>3} {s.n_frames:>7} {len(s.cameras):>4}  {s.sequence}"
        )
    around = [*capture.known, *capture.short_videos]
    print(
        f"{len(capture.sequences)} sequences, {capture.n_camera_frames} camera-frames, "
        f"{len(capture.problems)} problem(s) leaving sequences out, {len(around)} built around"
    )
    for problem in capture.problems:
        print(f"PROBLEM {type(problem).__name__}: {problem}")
    for problem in capture.known:
        print(f"KNOWN {type(problem).__name__}: {problem}")
    for problem in capture.short_videos:
        print(f"PROBLEM {type(problem).__name__}: {problem}")
    return 1 if capture.problems else 0


def _capture_demo(args: argparse.Namespace) -> int:
    """Write the synthetic Human3.6M-layout capture."""
    import time

    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    settings = CaptureSettings(
        subjects=tuple(args.subjects),
        seconds=args.seconds,
        seed=args.seed,
        mocap_noise_mm=args.mocap_noise_mm,
        videos=not args.no_videos,
        detections=not args.no_detections,
        actions=tuple(args.actions),
        workers=args.workers,
        truth_model=args.truth_model,
    )
    start = time.perf_counter()
    root = generate_capture(args.out, settings)
    takes = len(settings.subjects) * len(settings.actions) * 2
    print(
        f"wrote {takes} takes of {len(settings.subjects)} subject(s) to {root} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


def _build(args: argparse.Namespace) -> int:
    """Raw capture -> dataset folder; exit status 1 when any sequence failed or was flagged."""
    from simspine_dataset.commands.build import build
    from simspine_dataset.config import BuildConfig
    from simspine_dataset.errors import SimspineError

    base = BuildConfig.from_toml(args.config) if args.config else BuildConfig()
    given = {  # command-line options override the config file
        "subjects": tuple(args.subjects) if args.subjects else None,
        "workers": args.workers,
        "detections": str(args.detections) if args.detections else None,
        "release": args.release,
        "model": str(args.model) if args.model else None,
        "check_videos": False if args.no_videos else None,
        "annotations": str(args.annotations) if args.annotations else None,
        "annotations_unit": args.annotations_unit,
    }
    frames = {
        "mode": args.frames,
        "stride": args.frame_stride,
        "size_px": args.crop_size,
        "jpeg_quality": args.jpeg_quality,
    }
    config = replace(
        base,
        **{k: v for k, v in given.items() if v is not None},
        frames=replace(base.frames, **{k: v for k, v in frames.items() if v is not None}),
    )
    if config.release == "public" and config.frames.mode != "none":
        raise SimspineError("a public release holds annotations only (no frames): drop --frames")
    if args.executor == "local":
        from tqdm import tqdm

        with tqdm(desc="simspine build", unit="sequence", disable=None) as bar:
            report = build(args.raw, args.out, config, lambda entry: bar.update())
    else:
        from simspine_dataset.commands.distributed import run

        report = _on_executor(run, args, args.out, config, f"{args.out}/build_report.json appears")
        if report is None:
            return 0
    failed = [e for e in report.sequences if e["status"] == "failed"]
    flagged = [e for e in report.sequences if e["status"] == "flagged"]
    ok = len(report.sequences) - len(failed) - len(flagged)
    print(
        f"built {args.out}: rows {report.rows}, {ok} sequences ok, {len(flagged)} flagged "
        f"(labels beyond the gates), {len(failed)} failed"
    )
    for entry in failed:
        print(f"FAILED {entry['subject']} {entry['sequence']}: {entry['error']}")
    for entry in flagged:
        print(f"FLAGGED {entry['subject']} {entry['sequence']}: {'; '.join(entry['flagged'])}")
    for problem in report.short_videos:
        print(f"SHORT VIDEO {problem}")
    for problem in report.known_problems:
        print(f"KNOWN {problem}")
    _unused_work_hint(args.out, report)
    return 1 if failed or flagged else 0


def _on_executor(
    function: Callable, args: argparse.Namespace, out: Path, config: object, appears: str
) -> object | None:
    """``function`` (``distributed.run`` or ``run_detect``) on ``--executor``; None when the jobs
    were only submitted (Slurm), which it says, with what ``appears`` when they finish."""
    report = function(args.raw, out, config, args.executor, tasks=args.tasks, logging_dir=args.logging_dir,
                      **_slurm_options(args))  # fmt: skip
    if isinstance(report, dict) and "submitted" in report:
        print(f"submitted Slurm jobs {' '.join(report['submitted'])}; {appears} when they finish")
        return None
    return report


def _unused_work_hint(out: Path, report: BuildRecord) -> None:
    from simspine_dataset.commands.build import unused_work

    if unused := unused_work(out, report):
        size = sum(p.stat().st_size for p in unused)
        print(f"{size / 2**20:.1f} MiB of work from other settings or inputs: simspine clean {out} frees it")


def _clean(args: argparse.Namespace) -> int:
    """Free the work folder of what the current build does not use (or all of it)."""
    from simspine_dataset.commands.build import clean

    files, size = clean(args.out, everything=args.all)
    print(f"freed {size / 2**20:.1f} MiB ({files} files) in {args.out / 'work'}")
    return 0


def _slurm_options(args: argparse.Namespace) -> dict:
    return {"partition": args.slurm_partition, "time": args.slurm_time} if args.executor == "slurm" else {}


def _detect(args: argparse.Namespace) -> int:
    """2D keypoints of every video -> SpinePose-format detections; exit status 1 when any failed."""
    from tqdm import tqdm

    from simspine_dataset.config import DetectConfig
    from simspine_dataset.io.detections import MARKER
    from simspine_dataset.stages.detect import REPORT, detect

    config = DetectConfig(
        model=args.model,
        version=args.model_version,
        onnx=str(args.onnx) if args.onnx else None,
        input_size=tuple(args.input_size) if args.input_size else None,
        mmpose_config=str(args.mmpose_config) if args.mmpose_config else None,
        checkpoint=str(args.checkpoint) if args.checkpoint else None,
        boxes=args.boxes,
        stride=args.stride,
        subjects=tuple(args.subjects) if args.subjects else None,
        batch_size=args.batch_size,
        workers=args.workers,
        threads=args.threads,
        device=args.device,
        precision=args.precision,
        int8_max_px=args.int8_max_px,
        accept_int8=args.accept_int8,
    )
    if args.executor != "local":
        from simspine_dataset.commands.distributed import run_detect

        appears = f"{args.detections}/{REPORT} appears (markers in {args.detections}/*/*/{MARKER})"
        report = _on_executor(run_detect, args, args.detections, config, appears)
        if report is None:
            return 0
    else:
        with tqdm(desc="simspine detect", unit="video", disable=None) as bar:

            def progress(result: VideoResult) -> None:
                bar.update()
                bar.set_postfix_str(f"{result.subject} {result.sequence}.{result.camera} {result.status}")

            report = detect(args.raw, args.detections, config, progress)
    counts = report["videos"]
    print(
        f"detected {args.detections}: {counts['done']} videos done, {counts['skipped']} already done, "
        f"{counts['failed']} failed; {report['frames']} frames; model {report['model']}"
    )
    if report["precision"]["precision"] == "int8":
        agreed, worst = report["precision"]["agreement"], report["precision"]["agreement"]["worst_keypoint"]
        print(
            f"int8 against fp32 on {agreed['crops']} held-out crops: "
            f"median {agreed['crop_px']['median']:.2f}, 95th percentile {agreed['crop_px']['p95']:.2f} "
            f"input px (worst keypoint {worst['name']} {worst['p95_crop_px']:.2f}; "
            f"gate {agreed['max_p95_crop_px']:g}{', accepted beyond it' if not agreed['passed'] else ''})"
        )
    for result in report["results"]:
        if result["status"] == "failed":
            print(f"FAILED {result['subject']} {result['sequence']} {result['camera']}: {result['error']}")
    return 1 if counts["failed"] else 0


def _publish(args: argparse.Namespace) -> int:
    from simspine_dataset.commands.publish import publish

    result = publish(
        args.out, args.repo_id, private=args.private, gated=args.gated, token=args.token, tag=args.tag
    )
    print(f"published {args.out} to {result['repo_url']} (commit {result['commit']}, tag {result['tag']})")
    return 0


def _export(args: argparse.Namespace) -> int:
    """A build -> the official release's files (OpenSim TRC/MOT/osim + Pose2Sim TOML, or h5)."""
    from tqdm import tqdm

    from simspine_dataset.commands.export import export

    with tqdm(desc="simspine export", unit="sequence", disable=None) as bar:
        counts = export(args.out, args.dest, args.format, lambda name: bar.update())
    print(
        f"exported {args.out} to {args.dest} ({counts['format']}): {counts['sequences']} sequences of "
        f"{counts['subjects']} subject(s), {counts['markers']} markers"
    )
    return 0


def _card(args: argparse.Namespace) -> int:
    from simspine_dataset.commands.card import write_card

    print(f"wrote {write_card(args.out)}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from simspine_dataset.commands.validate import format_checks, validate

    checks = validate(args.out)
    print(format_checks(checks))
    return 0 if all(c.ok for c in checks) else 1


def _demo(args: argparse.Namespace) -> int:
    """The main job on the embedded default: capture -> build -> load_dataset -> triangulation."""
    from simspine_dataset.commands.demo import run_demo

    summary = run_demo(args.out, seconds=args.seconds, workers=args.workers)
    print(f"\n{summary.text}")
    return 1 if summary.failed_sequences else 0


def _view(args: argparse.Namespace) -> int:
    """A build, two builds or a raw capture in the Rerun viewer (or a saved recording)."""
    from tqdm import tqdm

    from simspine_dataset.commands.view import view

    with tqdm(total=2, desc="simspine view", unit="stage", disable=None) as bar:

        def progress(stage: str) -> None:
            bar.set_postfix_str(stage)
            bar.update()

        result = view(
            args.location,
            subject=args.subject,
            sequence=args.sequence,
            save=args.save,
            serve=args.serve,
            compare=args.compare,
            capture=args.capture,
            stride=args.stride,
            max_frames=args.max_frames,
            detections=args.detections,
            progress=progress,
        )
    shown = f"{result['label']} ({result['frames']} frames)"
    if result["saved"]:
        print(f"saved {shown} to {result['saved']}: open it with `rerun {result['saved']}`")
    elif result["url"]:
        print(f"serving {shown} at {result['url']} and a web viewer on http://localhost:9090; Ctrl-C stops")
        _wait_for_interrupt()
    else:
        print(f"sent {shown} to the viewer")
    return 0


def _wait_for_interrupt() -> None:
    import time

    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        return


def _add_view_parser(sub: argparse._SubParsersAction) -> None:
    view = sub.add_parser("view", help="a build (folder or Hub repo) or a raw capture in the Rerun viewer")
    view.add_argument("location", help="a build folder, ORG/NAME on the Hub, or with --capture a raw capture")
    view.add_argument("--subject", help="the subject (default: the first built)")
    view.add_argument("--sequence", help='its sequence, e.g. "Walking 1" (default: the first)')
    view.add_argument("--save", type=Path, help="write the recording to FILE.rrd instead of showing it")
    view.add_argument("--serve", action="store_true", help="serve it to a web viewer instead")
    view.add_argument("--compare", help="a second build, shown beside the first with their distance")
    view.add_argument("--capture", action="store_true", help="LOCATION is a raw capture (mocap, videos...)")
    view.add_argument("--detections", type=Path, help="with --capture: detections (default RAW/detections)")
    view.add_argument("--stride", type=int, default=5, help="with --capture: every Nth video frame (5)")
    view.add_argument("--max-frames", type=int, help="the first N frames only (a quick look)")
    view.set_defaults(run=_view)


def _add_build_parser(sub: argparse._SubParsersAction) -> None:
    """``simspine build``: every option of ``BuildConfig`` and of the executors."""
    build = sub.add_parser("build", help="raw capture -> Hugging Face dataset folder")
    build.add_argument("raw", type=Path, help="the raw capture (Human3.6M layout, metadata.xml at its root)")
    build.add_argument("out", type=Path, help="the dataset folder to write (re-run to resume)")
    build.add_argument("--detections", type=Path, help="SpinePose 2D detections (simspine detect's output)")
    build.add_argument(
        "--annotations",
        type=Path,
        help="labels from the official SIMSPINE release (positions/ TRCs + kinematics/, simspine.h5 "
        "or simspine_*.npz) instead of the simulation",
    )
    build.add_argument(
        "--annotations-unit",
        choices=["m", "cm", "mm"],
        help="the annotations' length unit (default: decided from the body's size; refused when unclear)",
    )
    build.add_argument("--subjects", nargs="+", help="subjects to build (default: all on disk)")
    build.add_argument("--no-videos", action="store_true", help="mocap-only build: videos are not opened")
    build.add_argument(
        "--config", type=Path, help="a TOML file of build settings (builder_scripts/paper.toml)"
    )
    build.add_argument("--frames", choices=["none", "crop", "full"], help="frames config (default none)")
    build.add_argument("--frame-stride", type=int, help="every Nth mocap frame gets images (default 10)")
    build.add_argument("--crop-size", type=int, help="side of the square crops, px (default 256)")
    build.add_argument("--jpeg-quality", type=int, help="default 90")
    build.add_argument(
        "--release",
        choices=["full", "public"],
        help="full (default) or public: annotations only (no frames, no Human3.6M joint coordinates)",
    )
    build.add_argument("--workers", type=int, help="processes (default 1)")
    _add_executor_options(build, slurm_partition="cpu")
    build.add_argument(
        "--model",
        type=Path,
        help="the OpenSim model whose markers are the labels: 'simspine' (SIMSPINE's own model, from "
        "pose2sim's files), an .osim with SIMSPINE's markers and bodies (the official Model.osim), or "
        "a mapping JSON for any other model (see README); default: ours",
    )
    build.set_defaults(run=_build)


def _add_executor_options(parser: argparse.ArgumentParser, slurm_partition: str) -> None:
    """Where the units run: here (``--workers``) or on datatrove's executors."""
    parser.add_argument(
        "--executor",
        choices=["local", "datatrove", "ray", "slurm"],
        default="local",
        help="local: --workers processes here; datatrove/ray/slurm: datatrove's executors",
    )
    parser.add_argument("--tasks", type=int, default=4, help="datatrove tasks (per stage)")
    parser.add_argument("--logging-dir", help="datatrove's logs and completion markers (shared storage)")
    parser.add_argument(
        "--slurm-partition", default=slurm_partition, help="Slurm partition of the array jobs"
    )
    parser.add_argument("--slurm-time", default="24:00:00", help="Slurm time limit per task")


def _add_detect_parser(sub: argparse._SubParsersAction) -> None:
    """``simspine detect``: the model, the boxes, the frames, the compute and the precision."""
    from simspine_dataset.config import INT8_MAX_P95_PX
    from simspine_dataset.pose_models import SPINEPOSE_MODELS

    detect = sub.add_parser("detect", help="run a SpinePose-family 2D model over a capture's videos")
    detect.add_argument("raw", type=Path, help="the raw capture (Human3.6M layout)")
    detect.add_argument("detections", type=Path, help="output folder (read by build --detections)")
    detect.add_argument("--subjects", nargs="+", help="subjects to detect (default: all on disk)")
    detect.add_argument(
        "--model",
        default="spinepose-m",
        choices=sorted(SPINEPOSE_MODELS),
        help="SpinePose's published model (weights from its cache or download)",
    )
    detect.add_argument(
        "--model-version",
        choices=["v2", "v1"],
        help="v2: fine-tuned on SIMSPINE (default where published); v1: SpineTrack only",
    )
    detect.add_argument("--onnx", type=Path, help="any ONNX model with SpinePose's SimCC I/O instead")
    detect.add_argument(
        "--input-size",
        type=int,
        nargs=2,
        metavar=("W", "H"),
        help="input size of an --onnx model (default 192 256)",
    )
    detect.add_argument("--mmpose-config", type=Path, help="a 2D baseline config (with --checkpoint) instead")
    detect.add_argument("--checkpoint", type=Path, help="the 2D baseline's checkpoint (.pth)")
    detect.add_argument(
        "--boxes",
        choices=["mocap", "detector"],
        default="mocap",
        help="person boxes from the projected mocap (default) or SpinePose's detector",
    )
    detect.add_argument("--stride", type=int, default=1, help="every Nth frame (default 1: all)")
    detect.add_argument("--batch-size", type=int, default=32, help="crops per inference call")
    detect.add_argument("--workers", type=int, default=1, help="processes, one video each at a time")
    detect.add_argument("--threads", type=int, help="inference threads per worker (default cores/workers)")
    detect.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="auto: ONNX Runtime's CUDA provider when installed and a GPU is present",
    )
    detect.add_argument(
        "--precision",
        choices=["fp32", "int8"],
        default="fp32",
        help="int8: the ONNX model quantized on the capture's own crops (CPU, ~2-3x faster), its "
        "agreement with fp32 measured on held-out crops and gated (default fp32)",
    )
    detect.add_argument(
        "--int8-max-px",
        type=float,
        default=INT8_MAX_P95_PX,
        help="the int8 gate: largest 95th-percentile int8-to-fp32 distance of any keypoint, in the "
        f"model's input pixels (default {INT8_MAX_P95_PX:g})",
    )
    detect.add_argument(
        "--accept-int8", action="store_true", help="go on at int8 beyond the gate (its numbers are recorded)"
    )
    _add_executor_options(detect, slurm_partition="gpu")
    detect.set_defaults(run=_detect)


def _add_export_parser(sub: argparse._SubParsersAction) -> None:
    """``simspine export``: a build as the official release's files."""
    export = sub.add_parser("export", help="write a build as OpenSim / official SIMSPINE release files")
    export.add_argument("out", type=Path, help="a build folder")
    export.add_argument("dest", type=Path, help="the folder to write (the release's layout)")
    export.add_argument(
        "--format",
        choices=["opensim", "h5"],
        default="opensim",
        help="opensim: models/, cameras/, positions/ TRCs, kinematics/ MOTs (default); h5: simspine.h5",
    )
    export.set_defaults(run=_export)


def _add_publish_parser(sub: argparse._SubParsersAction) -> None:
    """``simspine publish``: the repo, its access and the token."""
    publish = sub.add_parser("publish", help="upload a built folder to the Hugging Face Hub")
    publish.add_argument("out", type=Path, help="a build folder")
    publish.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repo")
    publish.add_argument("--private", action="store_true", help="a private repo")
    publish.add_argument("--gated", action="store_true", help="gated with automatic approval")
    publish.add_argument("--tag", help="tag for the uploaded revision (default: build-<config hash>)")
    publish.add_argument("--token", help="Hub token (default: HF_TOKEN or the cached login); never printed")
    publish.set_defaults(run=_publish)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simspine",
        description="Build, check and publish the SIMSPINE-style 3D spine dataset from "
        "Human3.6M-layout captures.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the main job on the embedded synthetic capture, end to end")
    demo.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out)")
    demo.add_argument("--seconds", type=float, default=2.0, help="length of each synthetic take")
    demo.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    demo.set_defaults(run=_demo)

    cap = sub.add_parser("capture-demo", help="write a synthetic Human3.6M-layout capture")
    cap.add_argument("out", type=Path, help="folder of the capture to write")
    cap.add_argument(
        "--subjects",
        nargs="+",
        default=list(DEMO_SUBJECTS),
        help=f"subjects (default {' '.join(DEMO_SUBJECTS)})",
    )
    cap.add_argument("--seconds", type=float, default=4.0, help="length of each take (default 4)")
    cap.add_argument("--seed", type=int, default=0, help="random seed of motions, noise and detections")
    cap.add_argument("--mocap-noise-mm", type=float, default=0.0, help="Gaussian noise on D3_Positions")
    cap.add_argument(
        "--actions",
        nargs="+",
        default=list(ACTIONS),
        choices=ACTIONS,
        metavar="ACTION",
        help="default: all 15",
    )
    cap.add_argument("--workers", type=int, default=1, help="processes (takes are independent units)")
    cap.add_argument("--no-videos", action="store_true", help="skip the mp4 files (fast)")
    cap.add_argument("--no-detections", action="store_true", help="skip the SpinePose detections")
    cap.add_argument(
        "--truth-model",
        choices=TRUTH_MODELS,
        default="ours",
        help="the model whose markers are the truth: ours (default) or SIMSPINE's own (pose2sim's files)",
    )
    cap.set_defaults(run=_capture_demo)

    _add_detect_parser(sub)
    _add_build_parser(sub)

    _add_export_parser(sub)

    card = sub.add_parser("card", help="(re)render the dataset card")
    card.add_argument("out", type=Path, help="a build folder")
    card.set_defaults(run=_card)
    validate = sub.add_parser("validate", help="check a built folder")
    validate.add_argument("out", type=Path, help="a build folder")
    validate.set_defaults(run=_validate)

    _add_publish_parser(sub)
    _add_view_parser(sub)

    clean = sub.add_parser("clean", help="free a build folder's work units that its build does not use")
    clean.add_argument("out", type=Path, help="a build folder")
    clean.add_argument("--all", action="store_true", help="all of work/ (the next build redoes every unit)")
    clean.set_defaults(run=_clean)

    inspect = sub.add_parser("inspect", help="list a raw capture's sequences and every problem in it")
    inspect.add_argument("raw", type=Path, help="the raw capture (Human3.6M layout)")
    inspect.add_argument("--subjects", nargs="+", help="subjects to list (default: all on disk)")
    inspect.add_argument("--no-videos", action="store_true", help="do not open the mp4 files")
    inspect.set_defaults(run=_inspect)
    return parser


_INPUT_FOLDERS = {  # positional folders each command reads: missing ones are named at once
    "inspect": ("raw",), "build": ("raw",), "detect": ("raw",), "card": ("out",), "validate": ("out",),
    "publish": ("out",), "export": ("out",), "clean": ("out",),
}  # fmt: skip


def _hint(error: Exception, args: argparse.Namespace) -> str:
    """What to do about an expected error, when the message alone does not say."""
    from simspine_dataset.errors import CaptureError, MetadataError

    annotations = getattr(args, "annotations", None)
    if isinstance(error, CaptureError) and annotations and error.path.is_relative_to(Path(annotations)):
        return " (--annotations reads the official release's files and names: README, 'OpenSim files')"
    if isinstance(error, CaptureError) and error.path.name == "metadata.xml":
        return " (RAW must be a Human3.6M-layout folder with metadata.xml at its root; see README)"
    if isinstance(error, MetadataError) and error.path.suffix == ".json":
        return " (the mapping format: simspine_dataset/biomech/user_model.py)"
    model = getattr(args, "model", None)
    if isinstance(error, CaptureError) and model and error.path == Path(model):
        return " (--model: simspine, an .osim with SIMSPINE's markers and bodies, or a mapping JSON; README)"
    if isinstance(error, CaptureError):
        return " (simspine inspect RAW lists every problem of a capture)"
    return " (add -v for the traceback)" if isinstance(error, OSError) else ""


_DISTRIBUTION_OF = {
    "cv2": "opencv-python-headless",
    "PIL": "pillow",
    "rerun": "rerun-sdk",
}  # import -> pip name


def _extra_of(module: str) -> str | None:
    """The extra of this package (its installed metadata, from pyproject.toml) that requires the
    distribution ``module`` comes from; None when no extra does."""
    import re
    from importlib.metadata import PackageNotFoundError, requires

    root = module.split(".", maxsplit=1)[0]
    wanted = _DISTRIBUTION_OF.get(root, root).lower()
    try:
        requirements = requires("simspine-dataset") or []
    except PackageNotFoundError:
        return None
    for requirement in requirements:
        name = re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower()
        extra = re.search(r"extra\s*==\s*[\"']([\w-]+)[\"']", requirement)
        if name == wanted and extra:
            return extra.group(1)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``simspine`` console script; returns the exit status."""
    from simspine_dataset.errors import SimspineError

    args = _parser().parse_args(argv)
    logging.basicConfig(  # quiet by default: progress bars and summaries; details with -v
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        for name in _INPUT_FOLDERS.get(args.command, ()):
            if not (path := getattr(args, name)).is_dir():
                raise SimspineError(f"{path}: no such folder")
        return int(args.run(args))
    except ModuleNotFoundError as e:  # an optional dependency this command needs: name its extra
        if args.verbose or not (extra := _extra_of(e.name or "")):
            raise
        print(
            f"simspine: error: `simspine {args.command}` needs {e.name}, which is not installed: "
            f"pip install 'simspine-dataset[{extra}]'",
            file=sys.stderr,
        )
        return 2
    except (SimspineError, ValueError, OSError) as e:  # expected failures: one line, a traceback with -v
        if args.verbose:
            import traceback

            traceback.print_exc()
        message = " ".join(f"{e}{_hint(e, args)}".split())  # one line, whatever the library's message holds
        print(f"simspine: error: {message}", file=sys.stderr)
        return 2
