"""Action-specific motions of our model: coordinate trajectories for the 15 Human3.6M actions.

Each action is a few recognisable components (gait, sitting, hand to mouth, phone to the ear with
a head tilt, arm elevation, forward bending, pointing, waving, weight shifts) over a standing or
seated base posture, with amplitudes, rates and phases varied by the random generator and by the
subaction. Postures follow the biomechanics the SIMSPINE paper checks its data against: sitting
tilts the pelvis back and flexes the lumbar spine (less lordosis), arm elevation extends the
thoracic spine (flatter kyphosis), phoning bends the neck laterally toward the phone.

Trajectories are in table units (degrees, metres). ``pelvis_ty`` is left at 0: the generator puts
the lowest foot point on the floor afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simspine_dataset.biomech.model_table import ModelSpec
from simspine_dataset.h36m import FPS_HZ

Tracks = dict[str, np.ndarray]


def _ramp(t: np.ndarray, start: float, stop: float) -> np.ndarray:
    """0 before ``start``, 1 after ``stop``, a cosine blend in between."""
    x = np.clip((t - start) / max(stop - start, 1e-9), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _bump(phase: np.ndarray, centre: float, kappa: float) -> np.ndarray:
    """A smooth periodic bump of height 1 at ``centre`` (phase in cycles)."""
    return np.exp(kappa * (np.cos(2 * np.pi * (phase - centre)) - 1.0))


def _cycles(t: np.ndarray, period: float, duty: float, offset: float) -> np.ndarray:
    """Smooth 0..1 plateaus: up for ``duty`` of each ``period`` seconds (hand-to-mouth cycles)."""
    phase = ((t + offset) / period) % 1.0
    rise, fall = 0.3 * duty, 0.3 * duty  # ~0.4 s for a hand-to-mouth movement
    up = _ramp(phase, 0.0, rise) * (1.0 - _ramp(phase, duty - fall, duty))
    return up


class _Motion:
    """Coordinate tracks under construction, starting from a relaxed standing posture."""

    def __init__(self, spec: ModelSpec, n_frames: int, fps_hz: float, rng: np.random.Generator) -> None:
        self.t = np.arange(n_frames) / fps_hz
        self.rng = rng
        self.tracks: Tracks = {c.name: np.full(n_frames, c.default) for c in spec.coordinates}
        self.tracks["pelvis_ty"][:] = 0.0
        for side in ("r", "l"):
            self.set(f"hip_flexion_{side}", 3.0)
            self.set(f"knee_angle_{side}", 4.0)
            self.set(f"ankle_angle_{side}", 1.0)
            self.set(f"arm_add_{side}", -8.0)
            self.set(f"elbow_flex_{side}", 12.0)
        self.vary = lambda value, spread=0.15: value * (1.0 + spread * rng.uniform(-1, 1))

    def set(self, name: str, value: float | np.ndarray) -> None:
        self.tracks[name] = self.tracks[name] * 0.0 + value

    def add(self, name: str, value: float | np.ndarray) -> None:
        self.tracks[name] = self.tracks[name] + value

    def sway(self, amplitude_m: float = 0.01) -> None:
        """Quiet standing: slow postural sway and gaze shifts."""
        f = self.rng.uniform(0.15, 0.3)
        phase = self.rng.uniform(0, 2 * np.pi, 4)
        self.add("pelvis_tx", amplitude_m * np.sin(2 * np.pi * f * self.t + phase[0]))
        self.add("pelvis_tz", amplitude_m * np.sin(2 * np.pi * 0.8 * f * self.t + phase[1]))
        self.add("neck_rotation", self.vary(12.0) * np.sin(2 * np.pi * 0.12 * self.t + phase[2]))
        self.add("neck_flexion", 4.0 * np.sin(2 * np.pi * 0.2 * self.t + phase[3]))
        self.add("neck_bending", 3.0 * np.sin(2 * np.pi * 0.17 * self.t + phase[0]))
        self.add("L5_S1_Flex_Ext", 0.4 * np.sin(2 * np.pi * 0.25 * self.t + phase[2]))  # ~ +-3 deg lumbar

    def seated(self, amount: float | np.ndarray = 1.0, slump: float = 1.0) -> None:
        """Blend toward sitting on a chair: pelvis tilted back, lumbar spine flexed."""
        s = amount
        self.add("pelvis_tilt", 18.0 * s)  # posterior pelvic tilt
        self.add("L5_S1_Flex_Ext", 3.0 * slump * s)  # ~21 deg of lumbar flexion: lordosis drops
        self.add("thoracic_flexion", 6.0 * slump * s)
        for side in ("r", "l"):
            self.add(f"hip_flexion_{side}", 69.0 * s)
            self.add(f"knee_angle_{side}", 86.0 * s)
            self.add(f"ankle_angle_{side}", -1.0 * s)
            self.add(f"arm_flex_{side}", 30.0 * s)
            self.add(f"elbow_flex_{side}", 50.0 * s)

    def hand_to_head(self, side: str, amount: np.ndarray, target: str) -> None:
        """Raise a hand to the mouth (eating, smoking) or the ear (phoning)."""
        pose = {"mouth": (38.0, 14.0, 25.0, 128.0), "ear": (42.0, -32.0, -8.0, 142.0)}[target]
        for name, value in zip(("arm_flex", "arm_add", "arm_rot", "elbow_flex"), pose, strict=True):
            self.add(f"{name}_{side}", self.vary(value, 0.08) * amount)

    def gait(self, speed_m_s: float, cadence_hz: float, heading_rad: float, radius_m: float) -> None:
        """Walking along a circle of ``radius_m``: legs, arm swing, pelvis and trunk rotations."""
        phase = cadence_hz * self.t
        for side, shift in (("r", 0.0), ("l", 0.5)):
            p = phase + shift
            self.set(f"hip_flexion_{side}", 10.0 + 22.0 * np.cos(2 * np.pi * p))
            self.set(f"knee_angle_{side}", 6.0 + 12.0 * _bump(p, 0.12, 8.0) + 55.0 * _bump(p, 0.72, 6.0))
            self.set(f"ankle_angle_{side}", 2.0 - 10.0 * _bump(p, 0.55, 8.0) + 6.0 * _bump(p, 0.85, 6.0))
            self.set(f"arm_flex_{side}", 4.0 - 18.0 * np.cos(2 * np.pi * p))
            self.set(f"elbow_flex_{side}", 18.0 + 10.0 * (1 - np.cos(2 * np.pi * p)))
        angle = heading_rad + speed_m_s / radius_m * self.t
        self.set("pelvis_rotation", np.degrees(angle + np.pi / 2) + 4.0 * np.cos(2 * np.pi * phase))
        self.set("pelvis_list", 3.0 * np.cos(4 * np.pi * phase))
        self.add("L5_S1_axial_rotation", -0.8 * np.cos(2 * np.pi * phase))
        self.add("L5_S1_Flex_Ext", 0.3 * np.cos(4 * np.pi * phase))  # lumbar flexes twice per stride
        self.add("L5_S1_Lat_Bending", 0.4 * np.cos(2 * np.pi * phase))
        self.add("neck_bending", 2.0 * np.cos(2 * np.pi * phase))
        self.add("thoracic_rotation", -5.0 * np.cos(2 * np.pi * phase))
        self.add("pelvis_tx", radius_m * np.cos(angle) - radius_m * np.cos(heading_rad))
        self.add("pelvis_tz", -radius_m * np.sin(angle) + radius_m * np.sin(heading_rad))


def _directions(m: _Motion, sub: int) -> None:
    m.sway()
    side = "r" if sub == 1 else "l"
    point = _cycles(m.t, m.vary(3.2), 0.55, m.rng.uniform(0, 3))
    m.add(f"arm_flex_{side}", m.vary(80.0) * point)
    m.add(f"arm_add_{side}", -10.0 * point)
    m.add(f"elbow_flex_{side}", -8.0 * point)
    turn = 1.0 if side == "l" else -1.0  # look and turn toward the pointing hand
    m.add("thoracic_rotation", turn * m.vary(14.0) * point)
    m.add("neck_rotation", turn * m.vary(30.0) * point)


def _discussion(m: _Motion, sub: int) -> None:
    m.sway(0.015)
    f = m.vary(0.8)
    for k, side in enumerate(("r", "l")):
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * f * m.t + k * np.pi * (0.6 if sub == 1 else 1.0))
        m.add(f"arm_flex_{side}", 20.0 + 25.0 * wave)
        m.add(f"elbow_flex_{side}", 60.0 + 35.0 * wave)
        m.add(f"arm_rot_{side}", 15.0 * wave)
    m.add("neck_flexion", 6.0 * np.sin(2 * np.pi * 0.5 * m.t))
    m.add("thoracic_rotation", 8.0 * np.sin(2 * np.pi * 0.25 * m.t))
    m.add("pelvis_list", 3.0 * np.sin(2 * np.pi * 0.2 * m.t))


def _eating(m: _Motion, sub: int) -> None:
    m.seated(1.0, slump=1.2)
    side = "r" if sub == 1 else "l"
    bite = _cycles(m.t, m.vary(3.0), 0.45, m.rng.uniform(0, 3))
    m.hand_to_head(side, bite, "mouth")
    m.add("neck_flexion", 12.0 - 10.0 * bite)
    m.add("thoracic_flexion", 6.0 * (1.0 - bite))


def _greeting(m: _Motion, sub: int) -> None:
    m.sway()
    side = "r" if sub == 1 else "l"
    up = _ramp(m.t, 0.3, 1.0) * (1.0 - _ramp(m.t, m.t[-1] - 0.8, m.t[-1]))
    m.add(f"arm_flex_{side}", m.vary(115.0) * up)
    m.add(f"arm_add_{side}", -25.0 * up)
    m.add(f"elbow_flex_{side}", (55.0 + 30.0 * np.sin(2 * np.pi * m.vary(1.6) * m.t)) * up)
    m.add("thoracic_flexion", -5.0 * up)  # arm elevation extends the thoracic spine
    m.add("pelvis_tx", 0.15 * _ramp(m.t, 0.0, 0.8))  # a step in


def _phoning(m: _Motion, sub: int) -> None:
    m.sway()
    side = "r" if sub == 1 else "l"
    call = _ramp(m.t, 0.2, 0.9)
    m.hand_to_head(side, call, "ear")
    tilt = 1.0 if side == "r" else -1.0  # the head leans toward the phone
    m.add("neck_bending", tilt * m.vary(20.0, 0.1) * call)
    m.add("thoracic_bending", tilt * m.vary(5.0) * call)
    m.add("neck_rotation", 10.0 * np.sin(2 * np.pi * 0.15 * m.t))


def _photo(m: _Motion, sub: int) -> None:
    m.sway()
    aim = _ramp(m.t, 0.3, 1.0) * (1.0 - _ramp(m.t, m.t[-1] - 0.5, m.t[-1]) * (sub == 2))
    for side in ("r", "l"):
        m.add(f"arm_flex_{side}", m.vary(85.0, 0.08) * aim)
        m.add(f"arm_add_{side}", 28.0 * aim)
        m.add(f"elbow_flex_{side}", 90.0 * aim)
    m.add("thoracic_flexion", -9.0 * aim)  # arm elevation flattens the thoracic curve
    m.add("neck_flexion", -4.0 * aim)
    if sub == 2:  # crouch for a low shot
        crouch = _cycles(m.t, 4.0, 0.5, 1.0) * aim
        for side in ("r", "l"):
            m.add(f"hip_flexion_{side}", 45.0 * crouch)
            m.add(f"knee_angle_{side}", 75.0 * crouch)
            m.add(f"ankle_angle_{side}", 28.0 * crouch)
        m.add("L5_S1_Flex_Ext", 2.0 * crouch)


def _posing(m: _Motion, sub: int) -> None:
    m.sway(0.005)
    pose = _ramp(m.t, 0.2, 1.2)
    if sub == 1:  # arms overhead
        for side in ("r", "l"):
            m.add(f"arm_flex_{side}", m.vary(150.0, 0.05) * pose)
            m.add(f"elbow_flex_{side}", -5.0 * pose)
    else:  # arms out to the sides, hands on hips later
        for side in ("r", "l"):
            m.add(f"arm_add_{side}", -80.0 * pose)
    m.add("thoracic_flexion", -13.0 * pose)  # extension: flatter kyphosis
    m.add("L5_S1_Flex_Ext", -1.5 * pose)  # standing tall: more lordosis
    m.add("neck_flexion", -8.0 * pose)


def _purchases(m: _Motion, sub: int) -> None:
    m.sway()
    bend = _cycles(m.t, m.vary(4.0), 0.5, m.rng.uniform(0, 2))
    for side in ("r", "l"):
        m.add(f"hip_flexion_{side}", 38.0 * bend)
        m.add(f"knee_angle_{side}", 12.0 * bend)
        m.add(f"ankle_angle_{side}", 6.0 * bend)
    m.add("L5_S1_Flex_Ext", m.vary(5.0) * bend)
    m.add("thoracic_flexion", 14.0 * bend)
    m.add("neck_flexion", 18.0 * bend)
    side = "r" if sub == 1 else "l"
    m.add(f"arm_flex_{side}", 60.0 * bend)
    m.add("pelvis_tx", -0.06 * bend)


def _sitting(m: _Motion, sub: int) -> None:
    m.seated(1.0, slump=1.3 if sub == 1 else 1.0)
    m.add("neck_flexion", 10.0 + 8.0 * np.sin(2 * np.pi * 0.2 * m.t))
    m.add("neck_rotation", m.vary(25.0) * np.sin(2 * np.pi * 0.1 * m.t + m.rng.uniform(0, 6)))
    lean = _cycles(m.t, 5.0, 0.4, m.rng.uniform(0, 5))
    m.add("L5_S1_Flex_Ext", 1.5 * lean)
    m.add("thoracic_flexion", 8.0 * lean)


def _sitting_down(m: _Motion, sub: int) -> None:
    end = m.t[-1]
    down = _ramp(m.t, 0.2 * end, 0.55 * end) * (1.0 - _ramp(m.t, 0.8 * end, end) * (sub == 2))
    m.seated(down, slump=1.0)
    transition = 4.0 * down * (1.0 - down)  # lean forward while lowering (and rising)
    for side in ("r", "l"):
        m.add(f"hip_flexion_{side}", 28.0 * transition)
        m.add(f"ankle_angle_{side}", 10.0 * transition)
    m.add("L5_S1_Flex_Ext", 3.0 * transition)
    m.add("thoracic_flexion", 10.0 * transition)
    m.add("pelvis_tx", -0.12 * down)


def _smoking(m: _Motion, sub: int) -> None:
    if sub == 2:
        m.seated(1.0)
    else:
        m.sway()
    hold = 0.35 + 0.65 * _cycles(m.t, m.vary(5.0), 0.35, m.rng.uniform(0, 5))
    m.hand_to_head("r", hold, "mouth")
    m.add("neck_flexion", -6.0 * (hold - 0.35))


def _waiting(m: _Motion, sub: int) -> None:
    m.sway(0.02)
    shift = np.sin(2 * np.pi * m.vary(0.15) * m.t + m.rng.uniform(0, 6))
    m.add("pelvis_list", 4.0 * shift)
    m.add("hip_adduction_r", 4.0 * shift)
    m.add("hip_adduction_l", -4.0 * shift)
    m.add("L5_S1_Lat_Bending", -1.0 * shift)
    for side in ("r", "l"):  # hands behind the back (1) or arms folded (2)
        m.add(f"arm_flex_{side}", -15.0 if sub == 1 else 35.0)
        m.add(f"arm_add_{side}", 5.0 if sub == 1 else 25.0)
        m.add(f"elbow_flex_{side}", 55.0 if sub == 1 else 100.0)
    m.add("neck_rotation", m.vary(35.0) * np.sin(2 * np.pi * 0.1 * m.t))


def _walking(m: _Motion, sub: int, style: str = "plain") -> None:
    speed = {"plain": 1.25, "dog": 1.0, "together": 1.05}[style] * m.vary(1.0, 0.1)
    m.gait(speed, speed * 0.75, m.rng.uniform(0, 2 * np.pi), radius_m=m.vary(1.6, 0.1))
    if style == "dog":  # leaning forward, looking down at the dog, one hand on the leash
        m.add("thoracic_flexion", 10.0)
        m.add("L5_S1_Flex_Ext", 1.0)
        m.add("neck_flexion", 18.0)
        side = "r" if sub == 1 else "l"
        m.set(f"arm_flex_{side}", 30.0 + 4.0 * np.sin(2 * np.pi * 1.5 * m.t))
        m.set(f"elbow_flex_{side}", 15.0)
    elif style == "together":  # talking to a companion walking alongside
        turn = 1.0 if sub == 1 else -1.0
        m.add("neck_rotation", turn * m.vary(30.0))
        m.add("thoracic_rotation", turn * 8.0)


ACTION_MOTIONS: dict[str, Callable[[_Motion, int], None]] = {
    "Directions": _directions,
    "Discussion": _discussion,
    "Eating": _eating,
    "Greeting": _greeting,
    "Phoning": _phoning,
    "Photo": _photo,
    "Posing": _posing,
    "Purchases": _purchases,
    "Sitting": _sitting,
    "SittingDown": _sitting_down,
    "Smoking": _smoking,
    "Waiting": _waiting,
    "WalkDog": lambda m, sub: _walking(m, sub, "dog"),
    "Walking": _walking,
    "WalkTogether": lambda m, sub: _walking(m, sub, "together"),
}


def action_motion(
    spec: ModelSpec,
    action: str,
    subaction: int,
    n_frames: int,
    rng: np.random.Generator,
    fps_hz: float = FPS_HZ,
) -> np.ndarray:
    """(T, Q) coordinates (table units) of one take; ``pelvis_ty`` = 0 (feet placed later)."""
    if action not in ACTION_MOTIONS:
        raise ValueError(f"no motion for action {action!r}")
    motion = _Motion(spec, n_frames, fps_hz, rng)
    heading = rng.uniform(-np.pi, np.pi)
    motion.add("pelvis_rotation", np.degrees(heading))
    motion.add("pelvis_tx", rng.uniform(-0.6, 0.6))
    motion.add("pelvis_tz", rng.uniform(-0.6, 0.6))
    ACTION_MOTIONS[action](motion, subaction)
    q = np.stack([motion.tracks[c.name] for c in spec.coordinates], axis=1)
    low = np.array([c.range[0] for c in spec.coordinates])
    high = np.array([c.range[1] for c in spec.coordinates])
    return np.clip(q, low, high)
