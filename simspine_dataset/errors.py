"""The project's error tree.

Every error raised on bad input names the file (or sequence) and what is wrong with it, so a
user reading a log line knows where to look. Catch ``SimspineError`` to catch all of them.

    SimspineError
      CaptureError                  a raw-capture file is unusable (carries ``path``, ``problem``)
        MissingFileError            an expected file is absent
        MetadataError               metadata.xml is malformed or lacks an entry
        MissingCameraError          a camera has no calibration for the subject
        UnknownActionError          a sequence name maps to no canonical action
        BadArrayError               an array has the wrong shape or variables are missing
        NonFiniteError              an array holds NaN or infinite values
        CorruptFileError            a file cannot be opened or parsed in its format
          CorruptVideoError         a video cannot be opened, demuxed or decoded
        ShortVideoError             a video is shorter than its mocap (its sequence is still built)
      CaptureProblems               every problem a discovery pass found (an ExceptionGroup)
      ModelError                    a 2D pose model cannot be found, loaded or run (``path``, ``problem``)
      ShapeError                    an array argument has the wrong shape (programming error)
"""

from __future__ import annotations

from pathlib import Path


class SimspineError(Exception):
    """Base class of every error this package raises on purpose."""


class ShapeError(SimspineError, ValueError):
    """An array passed to a function has a shape the function does not accept."""


class CaptureError(SimspineError):
    """A file of a raw capture cannot be used. The message starts with the file's path."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple:  # keep the two-argument constructor picklable (worker processes)
        return (type(self), (self.path, self.problem))


class MissingFileError(CaptureError):
    """An expected file of the capture layout is absent."""


class MetadataError(CaptureError):
    """metadata.xml is malformed or does not describe a sequence or subject."""


class MissingCameraError(CaptureError):
    """A camera has no calibration (or no file) for a subject."""


class UnknownActionError(CaptureError):
    """A sequence name maps to none of the 15 canonical Human3.6M actions."""


class BadArrayError(CaptureError):
    """An array in a file has the wrong shape, type or variable name."""


class NonFiniteError(CaptureError):
    """An array in a file holds NaN or infinite values."""


class CorruptFileError(CaptureError):
    """A file cannot be opened or parsed in its format (truncated, wrong format, ...)."""


class CorruptVideoError(CorruptFileError):
    """A video cannot be opened, demuxed or decoded."""


class ShortVideoError(CaptureError):
    """A camera's video holds fewer frames than the mocap: that camera's rows stop where it does."""


class CaptureProblems(ExceptionGroup, SimspineError):  # noqa: N818 - a group, named for what it holds
    """All the problems a discovery pass found, raised together rather than one at a time."""

    def __new__(cls, message: str, problems: list[CaptureError]) -> CaptureProblems:
        return super().__new__(cls, message, problems)


class ModelError(SimspineError):
    """A 2D pose model (``pose_models``) cannot be found, loaded or run. The message starts with the
    file's path and says what to do."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple:
        return (type(self), (self.path, self.problem))
