"""The motor layer: image points to 3-D goals, and goals to end-effector commands.

Geometry conventions (shared with ``envs/robot`` and :mod:`actions.camera`):

* A **point** is normalised to the image, ``x, y`` in ``[0, 1]`` from the top-left, x right and
  y down; pixel ``i``'s centre lies at ``(i + 0.5) / W``.
* **Pixels** follow OpenCV: pixel ``(i, j)``'s centre is at ``u = i, v = j``, so a normalised
  point is at ``u = x * W - 0.5``, ``v = y * H - 0.5``.
* ``CameraInfo.intrinsics`` is the 3x3 ``K`` in those pixels for the observation's image size;
  :func:`pinhole_intrinsics` builds it from a vertical field of view (a simulator camera).
* ``CameraInfo.extrinsics`` is the 4x4 camera-to-world transform in the OpenCV camera frame
  (x right, y down, z forward), metres; :func:`opengl_to_opencv` converts a pose whose camera
  looks down -z with y up (MuJoCo, OpenGL).
* **Depth** is an ``H x W`` array of metres along the optical axis (camera-frame ``z``, not the
  distance along the ray); 0, negative and non-finite values mean "no reading".

:func:`back_project` turns a point and depth into a world point, :func:`project` goes back.
"""

from __future__ import annotations

import math

import numpy as np

from actions.coords import norm_to_pixels
from actions.errors import CoordinateError, GroundingError
from actions.schema import CameraInfo

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
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


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
    u, v = point[0] * width - 0.5, point[1] * height - 0.5
    ray = np.linalg.solve(camera.intrinsics, np.array([u, v, 1.0]))
    cam = ray * (z / ray[2])
    pose = camera.extrinsics
    return pose[:3, :3] @ cam + pose[:3, 3]


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
    x = (uvw[0] / uvw[2] + 0.5) / width
    y = (uvw[1] / uvw[2] + 0.5) / height
    if not (-_EDGE <= x <= 1.0 + _EDGE and -_EDGE <= y <= 1.0 + _EDGE):
        raise CoordinateError(
            f"world point {np.round(world, 4).tolist()} projects to ({x:.3f}, {y:.3f}), "
            "outside the image"
        )
    return float(np.clip(x, 0.0, 1.0)), float(np.clip(y, 0.0, 1.0))
