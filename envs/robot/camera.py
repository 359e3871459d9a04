"""The fixed scene camera: its pose, pinhole matrices, and an RGB + depth renderer.

Conventions (those of :class:`actions.schema.CameraInfo`): ``intrinsics`` is the 3x3 ``K`` in
pixels with pixel centres at ``i + 0.5``; ``extrinsics`` is the 4x4 camera-to-world transform
in the OpenCV frame (x right, y down, z forward). MuJoCo's cameras look down -z with y up; the
conversion happens here. Depth is the distance along the optical axis (camera-frame z), metres.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from actions.motor import pinhole_intrinsics
from envs.errors import EnvError
from envs.robot.gl import GL_HINT, import_mujoco

_LIVE: weakref.WeakSet[SceneRenderer] = weakref.WeakSet()
"""Renderers not closed yet: closed at exit, before Python tears down the GL bindings (their
own ``__del__`` would then fail with a traceback)."""


@atexit.register
def _close_all() -> None:
    for renderer in list(_LIVE):
        with contextlib.suppress(Exception):
            renderer.close()


@dataclass(frozen=True)
class CameraPose:
    """A free MuJoCo camera aimed at ``lookat`` (MuJoCo's ``mjvCamera`` fields)."""

    lookat: tuple[float, float, float] = (1.3, 0.75, 0.55)  # metres; the table top's centre
    distance: float = 1.2  # metres from lookat
    azimuth: float = 180.0  # degrees; 180 looks along -x, facing the robot across the table
    elevation: float = -35.0  # degrees; negative looks down
    fovy: float = 45.0  # vertical field of view, degrees (MuJoCo's free-camera default)

    @property
    def forward(self) -> np.ndarray:
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])

    @property
    def up(self) -> np.ndarray:
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        return np.array([-math.sin(el) * math.cos(az), -math.sin(el) * math.sin(az), math.cos(el)])

    @property
    def position(self) -> np.ndarray:
        return np.asarray(self.lookat, dtype=np.float64) - self.distance * self.forward

    def intrinsics(self, width: int, height: int) -> np.ndarray:
        """``K`` for a ``width`` x ``height`` image (square pixels, centred principal point)."""
        return pinhole_intrinsics(self.fovy, width, height)

    def extrinsics(self) -> np.ndarray:
        """Camera-to-world transform, OpenCV axes (x right, y down, z forward)."""
        forward, up = self.forward, self.up
        pose = np.eye(4)
        pose[:3, :3] = np.column_stack([np.cross(forward, up), -up, forward])
        pose[:3, 3] = self.position
        return pose


DEFAULT_CAMERA = CameraPose()


class SceneRenderer:
    """Renders RGB and depth of one MuJoCo model in one pass through an offscreen GL context."""

    def __init__(self, model: Any, width: int, height: int, pose: CameraPose) -> None:
        mujoco = import_mujoco()
        self._mujoco = mujoco
        self.model, self.width, self.height = model, width, height
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        model.vis.global_.fovy = pose.fovy
        try:
            self._gl = mujoco.GLContext(width, height)
            self._gl.make_current()
            self._context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        except Exception as err:  # GL errors come in many types, all mean the same here
            raise EnvError(
                f"MuJoCo cannot open an OpenGL context with MUJOCO_GL="
                f"{os.environ.get('MUJOCO_GL', '(unset)')} ({type(err).__name__}: {err}); {GL_HINT}"
            ) from err
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._context.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR
        self._scene = mujoco.MjvScene(model, maxgeom=1000)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0  # 2-6x faster on CPU GL
        self._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self._camera.lookat[:] = pose.lookat
        self._camera.distance, self._camera.azimuth = pose.distance, pose.azimuth
        self._camera.elevation = pose.elevation
        self._rect = mujoco.MjrRect(0, 0, width, height)
        extent = model.stat.extent
        near, far = model.vis.map.znear * extent, model.vis.map.zfar * extent
        self._depth_scale = (near, far)
        _LIVE.add(self)

    def render(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb uint8 HxWx3, depth float32 HxW metres)`` of ``data``'s current state."""
        mujoco = self._mujoco
        self._gl.make_current()
        mujoco.mjv_updateScene(
            self.model, data, self._option, None, self._camera, mujoco.mjtCatBit.mjCAT_ALL,
            self._scene,
        )  # fmt: skip
        mujoco.mjr_render(self._rect, self._scene, self._context)
        rgb = np.empty((self.height, self.width, 3), np.uint8)
        zbuf = np.empty((self.height, self.width), np.float32)
        mujoco.mjr_readPixels(rgb, zbuf, self._rect, self._context)
        depth = self._linear_depth(zbuf[::-1])
        near, far = self._depth_scale
        low, high = float(depth.min()), float(depth.max())  # NaN fails the test below too
        if not (near <= low < high <= far * 1.001):
            # a freed or lost GL context renders without an error, but a blank frame
            raise RuntimeError("the GL context returned a blank frame (lost or freed)")
        return np.ascontiguousarray(rgb[::-1]), depth

    def scene_camera(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """MuJoCo's own ``(position, forward, up)`` of the last render (for checks)."""
        cam = self._mujoco.mjv_averageCamera(self._scene.camera[0], self._scene.camera[1])
        return np.array(cam.pos), np.array(cam.forward), np.array(cam.up)

    def _linear_depth(self, zbuf: np.ndarray) -> np.ndarray:
        """OpenGL's reversed-z buffer (``mjDEPTH_ZEROFAR``) as metres along the optical axis."""
        near, far = self._depth_scale
        c = 0.5 * (far + near) / (far - near) - 0.5
        d = far * near / (far - near)
        return (d / (zbuf.astype(np.float64) + c)).astype(np.float32)

    def close(self) -> None:
        """Free the GL resources (idempotent)."""
        if getattr(self, "_context", None) is not None:
            self._context.free()
            self._context = None
        if getattr(self, "_gl", None) is not None:
            self._gl.free()
            self._gl = None
