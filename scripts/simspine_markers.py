"""Write SIMSPINE's marker set (the 33 model markers of its ``Markers.xml``) as an OpenSim MarkerSet,
from the table "Marker positions" of ``../shared/reference/spine_model.md`` (body frame, metres;
"L/R" rows: the first sign for L), with OpenSim's own serializer:

    python scripts/simspine_markers.py ../shared/reference/spine_model.md \
        simspine_dataset/data/simspine_model/markers.xml
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import opensim as osim

SIDES = {"L": "_l", "R": "_r"}  # the bodies of a side: femur_l, humerus_r, ...
PAIRED_BODIES = {"femur", "tibia", "talus", "calcn", "toes", "humerus", "ulna", "radius", "hand"}


def rows(text: str) -> list[tuple[str, str, tuple[float, float, float]]]:
    """(marker, body, xyz) per model marker, both sides expanded."""
    table = text.split("## Marker positions", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not re.fullmatch(r"-?[\d.]+", cells[2]):
            continue
        name, body, *xyz = cells
        if name.startswith("L/R"):
            for k, side in enumerate("LR"):
                signed = [_pick(v, k) for v in xyz]
                out.append((side + name[3:], _body(body, side), tuple(signed)))
        else:
            out.append((name, body, tuple(float(v) for v in xyz)))
    return out


def _pick(value: str, side: int) -> float:
    """'-/+0.105' -> -0.105 for L (side 0), +0.105 for R; a plain number for both."""
    if value.startswith(("-/+", "+/-")):
        sign = value[0] if side == 0 else value[2]
        return float(sign + value[3:])
    return float(value)


def _body(body: str, side: str) -> str:
    return body + SIDES[side] if body in PAIRED_BODIES else body


def main(reference: str, out: str) -> None:
    markers = osim.MarkerSet()
    for name, body, xyz in rows(Path(reference).read_text()):
        marker = osim.Marker()
        marker.setName(name)
        marker.set_fixed(False)
        marker.setParentFrameName(f"/bodyset/{body}")
        marker.set_location(osim.Vec3(*xyz))
        markers.cloneAndAppend(marker)
    markers.printToXML(out)
    sys.stdout.write(f"{out}: {markers.getSize()} markers\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
