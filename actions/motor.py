"""The motor layer: image points to 3-D goals, and goals to end-effector commands.

Geometry conventions (shared with ``envs/robot`` and :mod:`actions.camera`):

* A **point** is normalised to the image, ``x, y`` in ``[0, 1]`` from the top-left, x right and
  y down; pixel ``i``'s centre lies at ``(i + 0.5) / W``.
* **Pixel coordinates** are continuous: ``u = x * W``, ``v = y * H``; pixel ``i`` spans
  ``[i, i + 1)`` with its centre at ``i + 0.5`` (as OpenGL and MuJoCo render). OpenCV
  calibrations put pixel centres at integers instead; :mod:`actions.camera` adds 0.5 to their
  principal point when it loads one.
* ``CameraInfo.intrinsics`` is the 3x3 ``K`` in those pixels for the observation's image size;
  :func:`pinhole_intrinsics` builds it from a vertical field of view (a simulator camera).
* ``CameraInfo.extrinsics`` is the 4x4 camera-to-world transform in the OpenCV camera frame
  (x right, y down, z forward), metres; :func:`opengl_to_opencv` converts a pose whose camera
  looks down -z with y up (MuJoCo, OpenGL).
* **Depth** is an ``H x W`` array of metres along the optical axis (camera-frame ``z``, not the
  distance along the ray); 0, negative and non-finite values mean "no reading".

:func:`back_project` turns a point and depth into a world point, :func:`project` goes back.

Control: :class:`MotorLayer` executes motor actions (``ee_delta``, ``point_target``, and
``drag`` as a push along the table), one or a chunk from one policy call (:func:`parse_chunk`
reads one per line), as one :class:`EEDelta` per simulator step from the gripper's current
world position; it imports no simulator.
"""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from actions.coords import norm_to_pixels
from actions.errors import ActionError, CoordinateError, GroundingError, ParseError
from actions.parse import parse_action
from actions.schema import ActionBase, CameraInfo, Drag, EEDelta, Observation, PointTarget

logger = logging.getLogger(__name__)

# OpenGL camera frame (y up, looking down -z) to OpenCV's (y down, looking down +z).
_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])
_EDGE = 1e-9  # rounding slack at the image border in project()


def pinhole_intrinsics(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """``K`` of an ideal camera with square pixels, vertical field of view ``fovy_deg`` and the
    principal point at the image centre (MuJoCo's ``cam_fovy``)."""
    if not (0 < fovy_deg < 180) or width <= 0 or height <= 0:
        raise ValueError(
            f"need 0 < fovy_deg < 180 and a positive size, got {fovy_deg}, {width}x{height}"
        )
    f = height / (2.0 * math.tan(math.radians(fovy_deg) / 2.0))
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def opengl_to_opencv(cam_to_world: np.ndarray) -> np.ndarray:
    """A camera-to-world pose in the OpenGL camera frame (MuJoCo's ``cam_xmat``, ``cam_xpos``)
    to the same camera in the OpenCV frame that ``CameraInfo.extrinsics`` uses."""
    pose = np.asarray(cam_to_world, dtype=np.float64)
    if pose.shape != (4, 4):
        raise ValueError(f"a camera pose must be 4x4, got shape {pose.shape}")
    return pose @ _GL_TO_CV


def depth_at(point: tuple[float, float], depth: np.ndarray, *, window: int = 2) -> float:
    """Depth in metres at a normalised point: the pixel's own value when it is valid (finite,
    > 0), else the median of the valid values within ``window`` pixels of it.

    Raises :class:`GroundingError` when no valid value lies that close, and
    :class:`CoordinateError` for a point outside the image.
    """
    if depth.ndim != 2 or 0 in depth.shape:
        raise GroundingError(f"depth must be a non-empty H x W array, got shape {depth.shape}")
    height, width = depth.shape
    px, py = norm_to_pixels(point[0], point[1], width, height)
    own = float(depth[py, px])
    if math.isfinite(own) and own > 0:
        return own
    patch = depth[
        max(py - window, 0) : py + window + 1, max(px - window, 0) : px + window + 1
    ].astype(np.float64)
    valid = patch[np.isfinite(patch) & (patch > 0)]
    if valid.size == 0:
        raise GroundingError(
            f"no valid depth at point ({point[0]:.3f}, {point[1]:.3f}) (pixel {px}, {py}) or "
            f"within {window} pixels of it; point at a surface the depth camera sees, "
            "or widen the window"
        )
    return float(np.median(valid))


def back_project(
    point: tuple[float, float], depth: np.ndarray, camera: CameraInfo, *, window: int = 2
) -> np.ndarray:
    """The world point (metres, shape ``(3,)``) seen at a normalised image ``point``.

    ``depth`` is the observation's ``H x W`` depth image, read with :func:`depth_at`.
    """
    height, width = depth.shape[:2]
    z = depth_at(point, depth, window=window)
    origin, direction = _camera_ray(point, camera, (width, height))
    return origin + direction * z  # direction's camera-frame z is 1: depth is along the axis


def _camera_ray(
    point: tuple[float, float], camera: CameraInfo, image_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The camera's centre and the world direction through a normalised image ``point``,
    scaled so that one unit along it is one metre of depth (camera-frame z)."""
    width, height = image_size
    ray = np.linalg.solve(camera.intrinsics, np.array([point[0] * width, point[1] * height, 1.0]))
    pose = camera.extrinsics
    return pose[:3, 3], pose[:3, :3] @ (ray / ray[2])


def ray_at_height(
    point: tuple[float, float], camera: CameraInfo, image_size: tuple[int, int], height: float
) -> np.ndarray:
    """The world point (metres) at world ``z == height`` on the ray through a normalised image
    ``point`` (``image_size`` is ``(width, height)``): where something at that height would be
    seen, whatever the depth camera reads there. Raises :class:`GroundingError` when the ray
    never reaches that height in front of the camera."""
    origin, direction = _camera_ray(point, camera, image_size)
    if abs(direction[2]) < 1e-9 or (height - origin[2]) / direction[2] <= 0:
        raise GroundingError(
            f"the ray through ({point[0]:.3f}, {point[1]:.3f}) never reaches height "
            f"{height:.3f} m in front of the camera"
        )
    return origin + direction * (height - origin[2]) / direction[2]


def project(
    world: np.ndarray, camera: CameraInfo, image_size: tuple[int, int]
) -> tuple[float, float]:
    """The normalised image point where a world point (metres) appears; ``image_size`` is
    ``(width, height)``. Raises :class:`CoordinateError` for a point behind the camera or
    outside the image."""
    pose = camera.extrinsics
    cam = pose[:3, :3].T @ (np.asarray(world, dtype=np.float64) - pose[:3, 3])
    if cam[2] <= 0:
        raise CoordinateError(f"world point {np.round(world, 4).tolist()} is behind the camera")
    uvw = camera.intrinsics @ cam
    width, height = image_size
    x = uvw[0] / uvw[2] / width
    y = uvw[1] / uvw[2] / height
    if not (-_EDGE <= x <= 1.0 + _EDGE and -_EDGE <= y <= 1.0 + _EDGE):
        raise CoordinateError(
            f"world point {np.round(world, 4).tolist()} projects to ({x:.3f}, {y:.3f}), "
            "outside the image"
        )
    return float(np.clip(x, 0.0, 1.0)), float(np.clip(y, 0.0, 1.0))


def clip_ee_delta(
    action: EEDelta | Sequence[float], low: float = -1.0, high: float = 1.0
) -> EEDelta:
    """An end-effector command with ``dx, dy, dz`` clipped to ``[low, high]`` (a narrower action
    space than ``[-1, 1]``) and ``gripper`` to ``[-1, 1]``; also takes raw ``(dx, dy, dz[,
    gripper])`` numbers from a policy. Non-finite numbers raise :class:`ActionError`."""
    if not -1.0 <= low <= high <= 1.0:
        raise ValueError(f"need -1 <= low <= high <= 1, got low={low}, high={high}")
    if isinstance(action, EEDelta):
        values = [action.dx, action.dy, action.dz, action.gripper]
    else:
        values = [float(v) for v in action]
        if len(values) not in (3, 4):
            raise ActionError(
                f"an ee_delta has 3 or 4 numbers (dx, dy, dz[, gripper]), got {values}"
            )
        values += [0.0] * (4 - len(values))
    if not all(math.isfinite(v) for v in values):
        raise ActionError(f"ee_delta numbers must be finite, got {values}")
    dx, dy, dz = (min(max(v, low), high) for v in values[:3])
    return EEDelta(dx=dx, dy=dy, dz=dz, gripper=min(max(values[3], -1.0), 1.0))


MotorAction = EEDelta | PointTarget | Drag
"""An action the motor layer executes (a ``drag`` pushes what lies at its start to its end)."""
ActionChunk = Sequence[MotorAction]
"""A short sequence of motor actions from one policy call, executed in order."""

Status = Literal["idle", "running", "done", "timeout", "missed"]
_UP = np.array([0.0, 0.0, 1.0])


def parse_chunk(text: str, *, max_actions: int = 8) -> list[MotorAction]:
    """Model text holding one motor action per line (``point_target(...)``, ``ee_delta(...)``,
    ``drag(...)``) or a JSON list of action objects, as a chunk. Raises :class:`ParseError`
    saying which line is wrong, and for a non-motor action or more than ``max_actions``."""
    body = text.strip()
    if body.startswith("["):
        try:
            items = json.loads(body)
        except json.JSONDecodeError as err:
            raise ParseError(text, f"invalid JSON list: {err.msg}") from None
        if not isinstance(items, list):
            raise ParseError(text, "expected a JSON list of actions")
        chunk = [parse_action(json.dumps(item)) for item in items]
    else:
        lines = [line for line in body.splitlines() if line.strip()]
        chunk = [parse_action(line) for line in lines if not line.lstrip().startswith("```")]
    if not chunk:
        raise ParseError(text, "it holds no action")
    if len(chunk) > max_actions:
        raise ParseError(text, f"it holds {len(chunk)} actions; a chunk has at most {max_actions}")
    for action in chunk:
        if not isinstance(action, (EEDelta, PointTarget, Drag)):
            raise ParseError(
                text, f"{action.to_text()} is not a motor action (ee_delta, point_target, drag)"
            )
    return chunk


class MotorConfig(BaseModel):
    """Limits and gains of the motor layer. Distances are metres in the world frame, whose +z is
    up (hover, lift and offsets go along it); an action's ``dx, dy, dz`` move along the world
    axes (as Fetch's mocap does); commands are action units in ``[-1, 1]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gain: float = Field(0.9, gt=0.0, le=2.0, description="fraction of the remaining error per step")
    max_step: float = Field(1.0, gt=0.0, le=1.0, description="largest |dx|, |dy|, |dz| per step")
    metres_per_unit: float = Field(0.05, gt=0.0, description="metres an action of 1.0 moves")
    tolerance: float = Field(0.01, gt=0.0, description="a goal is reached within this distance")
    height_offset: float = Field(0.0, description="goal above the surface point for plain moves")
    grasp_offset: float = Field(
        -0.02,
        description="grasp point above the surface seen (pick; negative: under the object's "
        "top, so that the fingers close around it)",
    )
    place_offset: float = Field(0.02, description="release point above the surface seen (place)")
    hover_height: float = Field(0.1, ge=0.0, description="approach from this far above the goal")
    lift_height: float = Field(0.1, ge=0.0, description="lift this far after a grasp or release")
    close_steps: int = Field(8, ge=1, description="steps the gripper closes before lifting")
    open_steps: int = Field(5, ge=1, description="steps the gripper opens before retreating")
    min_grip_width: float | None = Field(
        None, ge=0.0, description="fingers closer than this after closing: nothing was grasped"
    )
    push_backoff: float = Field(
        0.06,
        gt=0.0,
        description="a push starts this far behind the object's point (object half-size "
        "plus clearance)",
    )
    push_contact: float = Field(
        0.035,
        ge=0.0,
        description="a push ends this far short of its end point: the gripper's distance "
        "from the object's point while it pushes (Fetch: half the block plus a finger), so "
        "that the object's point lands on the end",
    )
    push_offset: float = Field(
        -0.025,
        description="a push runs this far above the surface seen at its start point "
        "(negative: below the object's top face)",
    )
    push_speed: float = Field(0.5, gt=0.0, le=1.0, description="largest command while pushing")
    max_steps: int = Field(200, ge=1, description="steps one action may take before a timeout")
    stall_steps: int = Field(
        3,
        ge=1,
        description="a descent, push or waypoint that gains under stall_distance in this "
        "many steps has met something (the table, the object) or cannot get nearer: that "
        "stage ends there",
    )
    stall_distance: float = Field(0.002, ge=0.0, description="see stall_steps (metres)")
    depth_window: int = Field(2, ge=0, description="pixels around a point for the depth median")
    occlusion_margin: float = Field(
        0.02,
        ge=0.0,
        description="a push's point read this far above its height at the last "
        "look (its end: above its start) is the arm in front of it: the point is placed where "
        "its ray meets that height",
    )


@dataclass(frozen=True)
class _Phase:
    """One stage of a plan: pass ``delta`` on, move to ``goal``, or hold still ``steps`` steps."""

    name: str
    action: int  # index of the action in its chunk (max_steps counts per action)
    gripper: float | None = None  # the gripper command from this stage on; None keeps it
    goal: np.ndarray | None = None
    delta: EEDelta | None = None
    steps: int = 0
    check_grip: bool = False  # at the end of this stage, refuse an empty grasp
    max_step: float | None = None  # a slower limit than the config's (pushing)
    ends_on_stall: bool = False  # a waypoint or a contact: it also ends when the gripper stalls


class MotorLayer:
    """Turns motor actions into one :class:`EEDelta` per simulator step.

    ::

        layer = MotorLayer(MotorConfig())
        layer.set_target(action_or_chunk, observation)  # grounds image points once, now
        while not layer.done:
            obs, *_ = env.step(layer.command(ee_pos, gripper_opening))

    An ``ee_delta`` passes through for one step, clipped to ``max_step``. A ``point_target``
    becomes a world goal with :func:`back_project`, which a proportional controller with limits
    reaches: ``gripper="keep"`` moves there (plus ``height_offset``); ``"close"`` picks (above
    at ``hover_height``, down to the grasp point with the gripper open, close for
    ``close_steps``, lift ``lift_height``); ``"open"`` places (above, down to the release point,
    open for ``open_steps``, back up). A ``drag`` pushes what lies at its start point along the
    table to its end point: given ``ee_pos``, straight up to ``hover_height`` first when the
    gripper is lower (so it crosses over the object), then above the push's start
    (``push_backoff`` behind the object, away from the end), down to the push height, and
    straight on at ``push_speed`` until ``push_contact`` short of the end point (the object's
    point then lies on it). A descent, a push or a waypoint above the goal that stalls (no
    nearer its goal by ``stall_distance`` in ``stall_steps`` steps: the gripper met the table
    or the object, or cannot reach so high) ends there and the plan goes on; a push's points
    read through the arm are placed at the heights of its last look (``occlusion_margin``); a
    push re-planned with the gripper already lined up behind the object goes straight on. The
    gripper command persists: after a pick every command keeps squeezing (-1) until a place
    opens it (+1). Calling ``set_target`` again (after new perception) re-plans from wherever
    the gripper is; :meth:`clear` stops. :attr:`status` ends
    ``"done"``, ``"timeout"`` (an action took over ``max_steps``) or ``"missed"`` (the fingers
    closed to under ``min_grip_width``: nothing grasped). When nothing is left, ``command``
    holds still.
    """

    def __init__(self, config: MotorConfig | None = None) -> None:
        self.config = config or MotorConfig()
        self._phases: deque[_Phase] = deque()
        self._grip = 0.0  # the gripper command that persists between stages
        self._phase_steps = 0
        self._action_steps = 0
        # the current stage's last distances to its goal, one per step
        self._distances: deque[float] = deque(maxlen=self.config.stall_steps + 1)
        self._push_heights: tuple[float, float] | None = None  # a push's start and end z
        self.status: Status = "idle"

    @property
    def done(self) -> bool:
        """Whether nothing is left to execute (finished, timed out, missed, or never started)."""
        return self.status != "running"

    @property
    def phase(self) -> str | None:
        """The current stage (``move``, ``approach``, ``descend``, ``grasp``, ...), or ``None``."""
        return self._phases[0].name if self._phases else None

    @property
    def goal(self) -> np.ndarray | None:
        """The world point the current stage moves to, or ``None``."""
        return self._phases[0].goal if self._phases else None

    def clear(self) -> None:
        """Drop whatever is left of the plan; the gripper command persists."""
        self._phases.clear()
        self._push_heights = None
        self.status = "idle"

    def ground(self, target: PointTarget | Drag, observation: Observation) -> np.ndarray:
        """The world surface point (metres) under ``target`` (a drag's start) in
        ``observation``."""
        if observation.depth is None or observation.camera is None:
            raise GroundingError(
                "image points need an observation with depth and camera; use an env or camera "
                "that provides them, or send ee_delta actions"
            )
        return back_project(
            target.point, observation.depth, observation.camera, window=self.config.depth_window
        )

    def set_target(
        self, actions: MotorAction | ActionChunk, observation: Observation,
        ee_pos: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        """Plan ``actions`` (one or a chunk), grounding every image point in ``observation``;
        ``ee_pos`` (the gripper's world position) lets a push skip what is already done.

        Replaces any previous plan. Raises :class:`GroundingError` when a point cannot be
        grounded, and :class:`ActionError` for an action that is not a motor action.
        """
        chunk = [actions] if isinstance(actions, ActionBase) else list(actions)
        phases: list[_Phase] = []
        for i, action in enumerate(chunk):
            if isinstance(action, EEDelta):
                phases.append(_Phase("ee_delta", i, delta=action))
            elif isinstance(action, PointTarget):
                phases.extend(self._plan_point(action, self.ground(action, observation), i))
            elif isinstance(action, Drag):
                start, end = self._ground_push(action, observation)
                phases.extend(self._plan_push(start, end, i, ee_pos))
            else:
                raise ActionError(
                    f"{action.type} is not a motor action; the motor layer takes ee_delta and "
                    "point_target (the agent handles wait, done and fail)"
                )
        if not any(isinstance(action, Drag) for action in chunk):
            self._push_heights = None
        self._phases = deque(phases)
        self._phase_steps = self._action_steps = 0
        self._distances.clear()
        self.status = "running" if phases else "idle"

    def _ground_push(self, drag: Drag, observation: Observation) -> tuple[np.ndarray, np.ndarray]:
        """A drag's start and end as world points. A pushed object keeps its height, and so does
        the surface it goes to, but the arm pushing it often stands between the camera and
        them: a reading over ``occlusion_margin`` above the height seen at the last look (the
        end at the first look: above the start) is the arm, and the point is placed where its
        ray meets that height instead."""
        last_start, last_end = self._push_heights or (None, None)
        start = self._ground_under(drag, observation, last_start)
        end_at = PointTarget(x=drag.to_x, y=drag.to_y)
        end = self._ground_under(end_at, observation, start[2] if last_end is None else last_end)
        self._push_heights = (float(start[2]), float(end[2]))
        return start, end

    def _ground_under(
        self, target: PointTarget | Drag, observation: Observation, ceiling: float | None
    ) -> np.ndarray:
        surface = self.ground(target, observation)
        if ceiling is None or surface[2] <= ceiling + self.config.occlusion_margin:
            return surface
        assert observation.camera is not None and observation.depth is not None  # ground() did
        rows, width = observation.depth.shape[:2]
        return ray_at_height(target.point, observation.camera, (width, rows), ceiling)

    def _plan_point(self, target: PointTarget, surface: np.ndarray, i: int) -> list[_Phase]:
        cfg = self.config
        if target.gripper == "keep":
            return [_Phase("move", i, goal=surface + cfg.height_offset * _UP)]
        if target.gripper == "close":
            at = surface + cfg.grasp_offset * _UP
            return [
                _Phase("approach", i, 1.0, goal=at + cfg.hover_height * _UP, ends_on_stall=True),
                _Phase("descend", i, 1.0, goal=at, ends_on_stall=True),
                _Phase("grasp", i, -1.0, steps=cfg.close_steps, check_grip=True),
                _Phase("lift", i, -1.0, goal=at + cfg.lift_height * _UP),
            ]
        at = surface + cfg.place_offset * _UP
        return [
            _Phase("approach", i, goal=at + cfg.hover_height * _UP, ends_on_stall=True),
            _Phase("descend", i, goal=at, ends_on_stall=True),
            _Phase("release", i, 1.0, steps=cfg.open_steps),
            _Phase("retreat", i, 1.0, goal=at + cfg.lift_height * _UP),
        ]

    def _plan_push(
        self, start: np.ndarray, end: np.ndarray, i: int, ee_pos: np.ndarray | None
    ) -> list[_Phase]:
        cfg = self.config
        line = (end - start)[:2]
        if float(np.linalg.norm(line)) < cfg.tolerance:
            return []  # already there
        u = np.array([*line / np.linalg.norm(line), 0.0])
        z = start[2] + cfg.push_offset
        begin = np.array([*(start - cfg.push_backoff * u)[:2], z])
        push = _Phase("push", i, goal=np.array([*(end - cfg.push_contact * u)[:2], z]),
                      max_step=cfg.push_speed, ends_on_stall=True)  # fmt: skip
        if ee_pos is not None:
            rel = np.asarray(ee_pos, dtype=np.float64) - begin
            along = float(rel @ u)
            lateral = float(np.linalg.norm((rel - along * u)[:2]))
            behind = -0.5 * cfg.push_backoff < along < 0.5 * cfg.push_backoff
            if behind and lateral < 2 * cfg.tolerance and abs(rel[2]) < 2 * cfg.tolerance:
                return [push]  # lined up behind the object: push on
        rise = []
        if ee_pos is not None and ee_pos[2] < begin[2] + cfg.hover_height - cfg.tolerance:
            above = np.array([ee_pos[0], ee_pos[1], begin[2] + cfg.hover_height])
            # clear the object before crossing over it
            rise = [_Phase("rise", i, goal=above, ends_on_stall=True)]
        return [
            *rise,
            _Phase("approach", i, goal=begin + cfg.hover_height * _UP, ends_on_stall=True),
            _Phase("descend", i, goal=begin, ends_on_stall=True),
            push,
        ]

    def command(self, ee_pos: np.ndarray, gripper_opening: float | None = None) -> EEDelta:
        """The command for this simulator step, from the gripper's world position (metres) and
        its opening (distance between the fingers, metres; needed with ``min_grip_width``)."""
        pos = np.asarray(ee_pos, dtype=np.float64)
        if pos.shape != (3,) or not np.isfinite(pos).all():
            raise ActionError(f"ee_pos must be a finite (3,) world position, got {ee_pos!r}")
        cfg = self.config
        while self._phases:
            ph = self._phases[0]
            if ph.gripper is not None:
                self._grip = ph.gripper
            if self._action_steps >= cfg.max_steps:
                logger.warning("motor action %d timed out in stage %s", ph.action, ph.name)
                return self._stop("timeout")
            if ph.delta is not None:
                self._advance()
                if ph.delta.gripper != 0:
                    self._grip = ph.delta.gripper
                return clip_ee_delta(ph.delta, -cfg.max_step, cfg.max_step)
            if ph.goal is not None:
                error = ph.goal - pos
                if np.linalg.norm(error) > cfg.tolerance and not self._stalled(ph, error):
                    self._action_steps += 1
                    return self._move(error, ph.max_step or cfg.max_step)
            elif self._phase_steps < ph.steps:
                self._phase_steps += 1
                self._action_steps += 1
                return EEDelta(gripper=self._grip)
            elif ph.check_grip and cfg.min_grip_width is not None:
                if gripper_opening is None:
                    raise ActionError("min_grip_width is set, so command() needs gripper_opening")
                if gripper_opening < cfg.min_grip_width:
                    logger.info("grasp missed: the fingers closed to %.4f m", gripper_opening)
                    return self._stop("missed")
            self._advance()
        return EEDelta(gripper=self._grip)

    def _move(self, error: np.ndarray, limit: float) -> EEDelta:
        cfg = self.config
        step = cfg.gain * error / cfg.metres_per_unit
        largest = float(np.abs(step).max())
        if largest > limit:
            step *= limit / largest
        dx, dy, dz = (float(v) for v in step)
        return EEDelta(dx=dx, dy=dy, dz=dz, gripper=self._grip)

    def _stalled(self, phase: _Phase, error: np.ndarray) -> bool:
        """Whether a stage that may end on a stall (a descent, a push, a waypoint) has come no
        nearer its goal in the last ``stall_steps`` steps (by under ``stall_distance``): the
        gripper met something, or cannot get nearer."""
        if not phase.ends_on_stall:
            return False
        distances = self._distances
        distances.append(float(np.linalg.norm(error)))
        if len(distances) < (distances.maxlen or 0) or distances[0] - distances[-1] >= (
            self.config.stall_distance
        ):
            return False
        logger.debug("stage %s met something %.3f m from its goal", phase.name, distances[-1])
        return True

    def _advance(self) -> None:
        done = self._phases.popleft()
        self._phase_steps = 0
        self._distances.clear()
        if not self._phases:
            self.status = "done"
        elif self._phases[0].action != done.action:
            self._action_steps = 0

    def _stop(self, status: Status) -> EEDelta:
        self._phases.clear()
        self.status = status
        return EEDelta(gripper=self._grip)
