"""simspine-dataset: Human3.6M-style captures -> a biomechanically valid 3D spine dataset.

Importing the package is light (numpy only); heavy dependencies (opensim, datasets, torch, PyAV,
cdflib) are imported where they are used. Entry points:

- ``simspine_dataset.triangulate``: multi-view triangulation with confidence weights and outlier
  rejection (``geometry.triangulation``).
- ``simspine_dataset.skeleton``: the one keypoint table (37 SIMSPINE keypoints, regions, maps).
- ``simspine_dataset.geometry``: cameras, the Human3.6M lens model, frame changes, filters.
- ``simspine_dataset.stages.capture``: discover and read a Human3.6M-layout capture.
- ``simspine_dataset.metrics``: MPJPE, P-MPJPE, N-MPJPE and region tables.
- the ``simspine`` command (``simspine_dataset.cli``).
"""

from simspine_dataset.geometry.triangulation import Triangulation, triangulate

__version__ = "0.1.0"
__all__ = ["Triangulation", "__version__", "triangulate"]
