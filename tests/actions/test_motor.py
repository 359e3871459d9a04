"""The motor layer: back-projection against analytic cameras and depth, and the controller on a
simulated point-mass gripper."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.errors import CoordinateError, GroundingError
from actions.motor import (
    back_project,
    depth_at,
    opengl_to_opencv,
    pinhole_intrinsics,
    project,
)
from actions.schema import CameraInfo

W, H = 64, 48


def look_at(eye: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """OpenCV camera-to-world pose at ``eye`` looking at ``target``, rolled about its axis."""
    z = target - eye
    z = z / np.linalg.norm(z)
    up = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.99 else np.array([0.0, 1.0, 0.0])
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = math.cos(roll), math.sin(roll)
    x, y = c * x + s * y, -s * x + c * y
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = eye
    return pose


def camera(pose: np.ndarray, fovy: float = 60.0, size: tuple[int, int] = (W, H)) -> CameraInfo:
    return CameraInfo(intrinsics=pinhole_intrinsics(fovy, *size), extrinsics=pose)


def render_plane(cam: CameraInfo, normal: np.ndarray, offset: float, size=(W, H)) -> np.ndarray:
    """Analytic depth image (camera z, metres) of the plane ``normal . p = offset``; rays that
    miss it (or hit it behind the camera) read 0."""
    width, height = size
    u, v = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
    pix = np.stack([u, v, np.ones_like(u)], axis=-1)
    rays_cam = pix @ np.linalg.inv(cam.intrinsics).T  # z = 1
    rot, origin = cam.extrinsics[:3, :3], cam.extrinsics[:3, 3]
    rays_world = rays_cam @ rot.T
    t = (offset - normal @ origin) / (rays_world @ normal)  # z of the hit, since ray z = 1
    return np.where(np.isfinite(t) & (t > 0), t, 0.0).astype(np.float32)


POSES = {
    "overhead": look_at(np.array([0.0, 0.0, 1.5]), np.array([0.01, 0.0, 0.0])),
    "oblique": look_at(np.array([1.0, -0.6, 0.9]), np.array([0.0, 0.1, 0.0])),
    "rolled": look_at(np.array([-0.8, 0.5, 0.7]), np.array([0.1, 0.0, 0.0]), roll=0.7),
    "identity": np.eye(4),
}


@pytest.mark.parametrize("name", POSES)
@given(x=st.floats(0.0, 1.0), y=st.floats(0.0, 1.0), z=st.floats(0.2, 5.0))
@settings(max_examples=40, deadline=None)
def test_project_inverts_back_project(name: str, x: float, y: float, z: float) -> None:
    cam = camera(POSES[name])
    depth = np.full((H, W), z, dtype=np.float32)
    world = back_project((x, y), depth, cam)
    assert project(world, cam, (W, H)) == pytest.approx((x, y), abs=1e-9)
    cam_point = np.linalg.inv(cam.extrinsics) @ np.append(world, 1.0)
    assert cam_point[2] == pytest.approx(float(np.float32(z)))  # depth is camera z


@pytest.mark.parametrize("name", ["overhead", "oblique", "rolled"])
def test_plane_depth_back_projects_onto_the_plane(name: str) -> None:
    cam = camera(POSES[name])
    normal, offset = np.array([0.0, 0.0, 1.0]), 0.0  # the table top, z = 0
    depth = render_plane(cam, normal, offset)
    assert (depth > 0).mean() > 0.5
    for j in range(0, H, 5):
        for i in range(0, W, 7):
            if depth[j, i] > 0:
                p = back_project(((i + 0.5) / W, (j + 0.5) / H), depth, cam)
                assert abs(normal @ p - offset) < 1e-3


def test_fronto_parallel_plane_at_known_distance() -> None:
    pose = look_at(np.array([0.0, 0.0, 2.0]), np.zeros(3))
    cam = camera(pose)
    depth = render_plane(cam, np.array([0.0, 0.0, 1.0]), 0.5)  # 1.5 m in front of the camera
    np.testing.assert_allclose(depth, 1.5, atol=1e-6)
    centre = back_project((0.5, 0.5), depth, cam)
    np.testing.assert_allclose(centre, [0.0, 0.0, 0.5], atol=1e-3)


def test_principal_point_is_the_image_centre() -> None:
    k = pinhole_intrinsics(90.0, 100, 50)
    assert k[0, 0] == pytest.approx(25.0) and k[1, 1] == pytest.approx(25.0)
    cam = CameraInfo(intrinsics=k, extrinsics=np.eye(4))
    depth = np.ones((50, 100), dtype=np.float32)
    np.testing.assert_allclose(back_project((0.5, 0.5), depth, cam), [0, 0, 1], atol=1e-12)
    # 90 degrees vertical: the top edge of the image is 45 degrees up (-y in OpenCV).
    assert back_project((0.5, 0.0), depth, cam)[1] == pytest.approx(-1.0)


def test_opengl_pose_converts_to_opencv() -> None:
    gl = np.eye(4)
    gl[:3, 3] = [0.0, 0.0, 2.0]  # OpenGL camera at z = 2 looks down -z: at the origin
    cam = CameraInfo(intrinsics=pinhole_intrinsics(45.0, W, H), extrinsics=opengl_to_opencv(gl))
    assert project(np.zeros(3), cam, (W, H)) == pytest.approx((0.5, 0.5))
    # Image up is world +y for this OpenGL camera.
    assert project(np.array([0.0, 0.1, 0.0]), cam, (W, H))[1] < 0.5


def test_window_median_fills_holes() -> None:
    depth = np.full((H, W), 1.0, dtype=np.float32)
    depth[10:15, 10:15] = 2.0
    depth[12, 12] = np.nan
    depth[12, 13] = 0.0
    depth[11, 12] = -1.0
    assert depth_at(((12 + 0.5) / W, (12 + 0.5) / H), depth) == 2.0  # median of valid 2.0s
    assert depth_at(((20 + 0.5) / W, (20 + 0.5) / H), depth) == 1.0  # own value
    depth[8:17, 8:17] = np.inf
    with pytest.raises(GroundingError, match="no valid depth"):
        depth_at(((12 + 0.5) / W, (12 + 0.5) / H), depth)
    assert depth_at(((12 + 0.5) / W, (12 + 0.5) / H), depth, window=5) == 1.0


def test_window_at_the_image_corner() -> None:
    depth = np.zeros((H, W), dtype=np.float32)
    depth[0, 1] = 0.8
    assert depth_at((0.0, 0.0), depth) == pytest.approx(0.8)
    assert depth_at((1.0, 1.0), np.full((H, W), 0.3, np.float32)) == pytest.approx(0.3)


@pytest.mark.parametrize("point", [(-0.01, 0.5), (0.5, 1.01), (math.nan, 0.5)])
def test_points_outside_the_image_are_refused(point: tuple[float, float]) -> None:
    with pytest.raises(CoordinateError):
        back_project(point, np.ones((H, W), np.float32), camera(np.eye(4)))


def test_project_refuses_points_behind_or_outside() -> None:
    cam = camera(np.eye(4))
    with pytest.raises(CoordinateError, match="behind"):
        project(np.array([0.0, 0.0, -1.0]), cam, (W, H))
    with pytest.raises(CoordinateError, match="outside the image"):
        project(np.array([5.0, 0.0, 1.0]), cam, (W, H))
