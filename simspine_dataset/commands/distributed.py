"""The builder's units on datatrove's executors: past one machine (``simspine build --executor``).

Three chained datatrove jobs run the same resumable units as ``build.build``:

1. ``scale``: one unit per subject (task ``r`` of ``n`` takes subjects ``r, r + n, ...``);
2. ``sequences``: one unit per sequence (simulate, views, frames), spread the same way; each unit
   keeps its report entry in the work folder;
3. ``finalize``: one task: shards, metadata, report and card from the finished units.

Executors: ``datatrove`` (``LocalPipelineExecutor``: processes on this machine), ``ray``
(``RayPipelineExecutor``: a Ray cluster, or a local one started on loopback) and ``slurm``
(``SlurmPipelineExecutor``: one array job per stage, chained with dependencies). The work folder and
the logging folder must be on a filesystem every worker sees. datatrove records each finished task
in the logging folder and skips it on a re-run; our units skip finished work inside a task, so a
killed job is resumed by launching it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from simspine_dataset.commands.build import (
    BuildConfig,
    check_model,
    finalize,
    plan,
    run_sequence,
    scale_subject,
    sequence_keys,
    settings_digest,
    stored_entry,
)
from simspine_dataset.config import ignored_settings
from simspine_dataset.errors import SimspineError
from simspine_dataset.record import BuildRecord, read_record

if TYPE_CHECKING:
    from datatrove.data import DocumentsPipeline

    from simspine_dataset.config import DetectConfig

EXECUTORS = ("datatrove", "ray", "slurm")

try:  # datatrove is an optional dependency (extra "distributed")
    from datatrove.pipeline.base import PipelineStep
except ImportError:  # pragma: no cover - exercised where datatrove is absent
    PipelineStep = object

log = logging.getLogger(__name__)


class BuildStage(PipelineStep):
    """One stage of the build as a datatrove pipeline step (no documents flow: units do the work)."""

    name = "simspine build"
    type = "🦴 BUILD"

    def __init__(self, stage: str, raw: str, out: str, config: BuildConfig) -> None:
        super().__init__()
        if stage not in ("scale", "sequences", "finalize"):
            raise ValueError(f"unknown build stage {stage!r}")
        self.stage, self.raw, self.out, self.config = stage, str(raw), str(out), config

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        capture, by_subject = plan(self.raw, self.config)
        out = Path(self.out)
        if self.stage == "scale":
            for subject in list(by_subject)[rank::world_size]:
                scale_subject(out, subject, by_subject, self.config)
        elif self.stage == "sequences":
            records = [r for rs in by_subject.values() for r in rs]
            for record in records[rank::world_size]:
                run_sequence(out, record, by_subject, self.config)
        else:
            records = [r for rs in by_subject.values() for r in rs]
            entries = [stored_entry(out, r, by_subject, self.config) for r in records]
            finalize(out, capture, entries, self.config)
        return data


def executor_class(executor: str) -> type:
    """datatrove's executor class for ``executor``; a missing optional dependency fails here, at
    start, with the install command."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    try:
        from datatrove.executor import LocalPipelineExecutor, RayPipelineExecutor, SlurmPipelineExecutor

        if executor == "ray":
            import ray  # noqa: F401 - RayPipelineExecutor needs it only when it runs: check now
    except ImportError as e:
        raise SimspineError(
            f'--executor {executor} needs {e.name}: pip install -e ".[distributed]" (datatrove and ray)'
        ) from e
    return {"datatrove": LocalPipelineExecutor, "ray": RayPipelineExecutor, "slurm": SlurmPipelineExecutor}[
        executor
    ]


def run_key(raw: str | Path, config: BuildConfig) -> str:
    """Identity of a run's inputs and output settings, as the local units key them (settings digest,
    frames and release settings, every input file's fingerprint, detections included): datatrove's
    completion markers live under it, so a run with anything changed is not skipped as finished."""
    capture, by_subject = plan(raw, config)
    keys = [sequence_keys(r, by_subject, config) for rs in by_subject.values() for r in rs]
    problems = sorted(str(p) for p in capture.problems)
    text = json.dumps([keys, config.release, config.frames.key, problems], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def executors(
    raw: str | Path,
    out: str | Path,
    config: BuildConfig,
    executor: str = "datatrove",
    tasks: int = 4,
    logging_dir: str | Path | None = None,
    **options,
) -> list:
    """The three chained executors (scale -> sequences -> finalize); run the last one.

    ``options`` go to the executor class (e.g. ``partition``, ``time``, ``cpus_per_task`` for Slurm,
    ``cpus_per_task`` for Ray). Completion markers go to ``logging_dir``, by default
    ``OUT/work/<digest>/logs/<run key>`` (``run_key``)."""
    job_class = executor_class(executor)
    logs = (
        Path(logging_dir)
        if logging_dir
        else Path(out) / "work" / settings_digest(config) / "logs" / run_key(raw, config)
    )
    chain, previous = [], None
    for stage, n in (("scale", tasks), ("sequences", tasks), ("finalize", 1)):
        step = BuildStage(stage, raw, out, config)
        common = {"pipeline": [step], "tasks": n, "logging_dir": str(logs / stage), "depends": previous}
        if executor == "slurm":
            job = job_class(**common, job_name=f"simspine-{stage}", **options)
        else:
            job = job_class(**common, workers=min(n, config.workers or 1), **options)
        chain.append(job)
        previous = job
    return chain


class DetectStage(PipelineStep):
    """``simspine detect`` as datatrove steps: ``units`` (task ``r`` of ``n`` takes videos
    ``r, r + n, ...``; each skips videos already done, so a relaunch resumes; each video's result is
    recorded beside the detections), then ``report`` (one task: ``detect_report.json`` from every
    video's result, a unit that never finished named as failed)."""

    name = "simspine detect"
    type = "🦴 DETECT"

    def __init__(self, stage: str, raw: str, out: str, config: DetectConfig) -> None:
        super().__init__()
        if stage not in ("units", "report"):
            raise ValueError(f"unknown detect stage {stage!r}")
        self.stage, self.raw, self.out, self.config = stage, str(raw), str(out), config

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from simspine_dataset.stages.detect import collect, plan, record_result, run_unit

        if self.stage == "report":
            collect(self.raw, Path(self.out), self.config)
            return data
        units, _ = plan(self.raw, self.config)
        for record, camera in units[rank::world_size]:
            record_result(Path(self.out), run_unit((Path(self.out), record, camera, self.config)))
        return data


def run_detect(
    raw: str | Path,
    out: str | Path,
    config: DetectConfig,
    executor: str = "datatrove",
    tasks: int = 4,
    logging_dir: str | Path | None = None,
    **options,
) -> dict:
    """``detect`` on a datatrove executor: the units, then the report (chained). Returns the report
    (``detect_report.json``), or for Slurm, which only submits, ``{"submitted": [job ids]}``. The
    logging folder is keyed by the model and settings, so a changed model is not skipped as finished."""
    from simspine_dataset.stages.detect import plan
    from simspine_dataset.stages.precision import prepare

    job_class = executor_class(executor)
    config = prepare(out, plan(raw, config)[0], config)  # int8: quantized once, here, and gated
    key = hashlib.sha256(
        repr((config.load_model().identity, config.boxes, config.stride)).encode()
    ).hexdigest()
    logs = Path(logging_dir) if logging_dir else Path(out) / ".logs" / key[:16]
    previous = None
    for stage, n in (("units", tasks), ("report", 1)):
        common = {"pipeline": [DetectStage(stage, raw, out, config)], "tasks": n,
                  "logging_dir": str(logs / stage), "depends": previous}  # fmt: skip
        if executor == "slurm":
            previous = job_class(**common, job_name=f"simspine-detect-{stage}", **options)
        else:
            previous = job_class(**common, workers=min(n, config.workers), **options)
    previous.run()
    if executor == "slurm":
        return {"submitted": [str(previous.depends.job_id), str(previous.job_id)]}
    from simspine_dataset.stages.detect import REPORT

    return json.loads((Path(out) / REPORT).read_text())


def run(
    raw: str | Path, out: str | Path, config: BuildConfig, executor: str = "datatrove", **kwargs
) -> BuildRecord | dict:
    """Build with a datatrove executor; returns the build's record, or for Slurm (which only submits)
    ``{"submitted": [job ids]}``: an earlier build's report is never passed off as this run's."""
    for message in ignored_settings(config):
        log.warning(message)
    check_model(config)  # a bad user-model mapping fails here, before any job is launched
    chain = executors(raw, out, config, executor, **kwargs)
    chain[-1].run()
    if executor == "slurm":
        return {"submitted": [str(job.job_id) for job in chain]}
    return read_record(out)
