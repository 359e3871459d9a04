"""The motor layer: back-projection against analytic cameras and depth, and the controller on a
simulated point-mass gripper."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.errors import ActionError, CoordinateError, GroundingError, ParseError
from actions.motor import (
    MotorConfig,
    MotorLayer,
    back_project,
    clip_ee_delta,
    depth_at,
    opengl_to_opencv,
    parse_chunk,
    pinhole_intrinsics,
    project,
    ray_at_height,
)
from actions.parse import parse_action
from actions.schema import CameraInfo, Click, Drag, EEDelta, Observation, PointTarget, Wait

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
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)  # pixel centres
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


# --- the controller on a simulated point-mass gripper above a table -----------------------------

CAM_HEIGHT = 1.0
BLOCK = 0.05  # edge of a cube on the table (z = 0)
CONTACT = 0.035  # the gripper's centre to the cube's centre when it pushes the cube
DOWN = np.array([[1.0, 0, 0, 0], [0, -1.0, 0, 0], [0, 0, -1.0, CAM_HEIGHT], [0, 0, 0, 1]])


class Scene:
    """A straight-down camera over a table at z = 0 with an optional cube, and a point-mass
    gripper that moves ``metres_per_unit * command`` per step (with noise) and carries the cube
    when it closes around it, and pushes it along the table when it meets its side low."""

    def __init__(self, block_xy=None, *, noise: float = 0.0, seed: int = 0, size=(96, 96)) -> None:
        self.size = size
        self.cam = CameraInfo(intrinsics=pinhole_intrinsics(60.0, *size), extrinsics=DOWN)
        self.block = None if block_xy is None else np.array([*block_xy, BLOCK / 2])
        self.ee = np.array([0.0, 0.0, 0.3])
        self.opening = 0.08  # between the fingers, metres
        self.held = False
        self.pushing = False
        self.rng = np.random.default_rng(seed)
        self.noise = noise
        self.log: list[tuple[str | None, EEDelta, np.ndarray]] = []

    def observation(self) -> Observation:
        width, height = self.size
        depth = np.full((height, width), CAM_HEIGHT, dtype=np.float32)
        if self.block is not None:
            u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
            u, v = u - self.cam.intrinsics[0, 2], v - self.cam.intrinsics[1, 2]
            top = CAM_HEIGHT - (self.block[2] + BLOCK / 2)
            wx, wy = u * top / self.cam.intrinsics[0, 0], -v * top / self.cam.intrinsics[1, 1]
            inside = (abs(wx - self.block[0]) < BLOCK / 2) & (abs(wy - self.block[1]) < BLOCK / 2)
            depth[inside] = top
        image = np.zeros((height, width, 3), np.uint8)
        return Observation(image=image, instruction="pick", depth=depth, camera=self.cam)

    def target(self, world, gripper: str = "keep") -> PointTarget:
        x, y = project(np.asarray(world, dtype=float), self.cam, self.size)
        return PointTarget(x=x, y=y, gripper=gripper)

    def run(self, layer: MotorLayer, limit: int = 500) -> int:
        cfg = layer.config
        for n in range(limit):
            if layer.done:
                return n
            cmd = layer.command(self.ee, self.opening)
            assert max(abs(cmd.dx), abs(cmd.dy), abs(cmd.dz)) <= cfg.max_step + 1e-12
            self.log.append((layer.phase, cmd, self.ee.copy()))  # the stage that sent it
            self.step(cmd, cfg.metres_per_unit)
        return limit

    def step(self, cmd: EEDelta, scale: float) -> None:
        before = self.ee.copy()
        outside = self.block is not None and (
            float(np.linalg.norm(self.block[:2] - before[:2])) >= CONTACT
        )
        move = scale * np.array([cmd.dx, cmd.dy, cmd.dz])
        move = move * (1 + self.rng.normal(0, self.noise, 3)) + self.rng.normal(
            0, self.noise / 50, 3
        )
        self.ee = self.ee + move
        self.ee[2] = max(self.ee[2], 0.0)
        near = self.block is not None and np.linalg.norm(self.ee - self.block) < 0.02
        floor = BLOCK if (near or self.held) else 0.0
        self.opening = float(np.clip(self.opening + 0.02 * cmd.gripper, floor, 0.08))
        if near and cmd.gripper < 0 and self.opening <= BLOCK:
            self.held = True
        if self.held and cmd.gripper > 0 and self.opening > BLOCK:
            self.held = False
            self.block[2] = BLOCK / 2  # it drops onto the table
        if self.held:
            self.block = self.ee.copy()
        elif self.block is not None and self.ee[2] < BLOCK:
            way = (self.ee - before)[:2]  # a flat face pushes the cube the way it moves
            length = float(np.linalg.norm(way))
            ahead = float((self.block[:2] - self.ee[:2]) @ way) / max(length, 1e-12)
            if length > 1e-9 and 0 <= ahead < CONTACT and (self.pushing or outside):
                self.block[:2] += (CONTACT - ahead) * way / length  # met its side: pushed on
                self.pushing = True
        else:
            self.pushing = False


@given(
    goal=st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3)),
    start=st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3), st.floats(0.05, 0.5)),
    noise=st.floats(0.0, 0.2),
    max_step=st.floats(0.2, 1.0),
)
@settings(max_examples=40, deadline=None)
def test_controller_reaches_the_goal_within_limits(goal, start, noise, max_step) -> None:
    scene = Scene(noise=noise)
    scene.ee = np.array(start)
    config = MotorConfig(max_step=max_step, height_offset=0.05)
    layer = MotorLayer(config)
    layer.set_target(
        scene.target([*goal, 0]),
        scene.observation(),
    )
    target = np.array([*goal, 0.05])
    np.testing.assert_allclose(layer.goal, target, atol=1e-3)
    distance = np.linalg.norm(target - scene.ee)
    steps = scene.run(layer)
    assert layer.status == "done"
    assert np.linalg.norm(scene.ee - target) <= config.tolerance + 0.06 * max_step
    # Straight at full speed, then a geometric tail: a loose bound that still catches a stall.
    assert steps <= distance / (config.metres_per_unit * max_step) + 40
    assert layer.command(scene.ee, scene.opening) == EEDelta()  # done: hold still


def test_reached_means_within_tolerance_without_noise() -> None:
    scene = Scene()
    layer = MotorLayer(MotorConfig(tolerance=0.002))
    layer.set_target(PointTarget(x=0.7, y=0.3), scene.observation())
    goal = layer.goal.copy()
    scene.run(layer)
    assert np.linalg.norm(scene.ee - goal) <= 0.002


def pick_target(scene: Scene) -> PointTarget:
    return scene.target(scene.block + np.array([0, 0, BLOCK / 2]), "close")


def test_pick_closes_at_the_object_and_lifts() -> None:
    scene = Scene(block_xy=(0.12, -0.08))
    config = MotorConfig(grasp_offset=-BLOCK / 2, min_grip_width=0.01)
    layer = MotorLayer(config)
    layer.set_target(pick_target(scene), scene.observation())
    scene.run(layer)
    assert layer.status == "done"
    phases = [p for p, _, _ in scene.log]
    # The last call finds the lift done and holds still.
    assert list(dict.fromkeys(phases)) == ["approach", "descend", "grasp", "lift", None]
    assert phases.count("grasp") == config.close_steps
    first_close = next(i for i, (_, c, _) in enumerate(scene.log) if c.gripper < 0)
    assert np.linalg.norm(scene.log[first_close][2] - [0.12, -0.08, BLOCK / 2]) <= config.tolerance
    assert all(c.gripper == 1.0 for p, c, _ in scene.log if p in ("approach", "descend"))
    assert scene.held and scene.block[2] >= BLOCK / 2 + config.lift_height - config.tolerance
    # The grip persists after the plan: holding still keeps squeezing.
    assert layer.command(scene.ee, scene.opening).gripper == -1.0


def test_pick_and_place_chunk_moves_the_block() -> None:
    scene = Scene(block_xy=(-0.1, 0.1), noise=0.05, seed=3)
    layer = MotorLayer(MotorConfig(grasp_offset=-BLOCK / 2, place_offset=BLOCK / 2))
    place = scene.target([0.15, -0.05, 0.0], "open")
    layer.set_target([pick_target(scene), place], scene.observation())
    scene.run(layer, limit=300)
    assert layer.status == "done" and not scene.held
    np.testing.assert_allclose(scene.block[:2], [0.15, -0.05], atol=0.02)
    assert layer.command(scene.ee, scene.opening).gripper == 1.0


def test_missed_grasp_stops_the_plan() -> None:
    scene = Scene(block_xy=(0.1, 0.1))
    layer = MotorLayer(MotorConfig(grasp_offset=-BLOCK / 2, min_grip_width=0.01))
    layer.set_target(pick_target(scene), scene.observation())
    scene.block = None  # the block is gone before the gripper gets there
    scene.run(layer)
    assert layer.status == "missed" and layer.done and layer.phase is None


def test_unreachable_goal_times_out() -> None:
    scene = Scene()
    layer = MotorLayer(MotorConfig(max_steps=30))
    layer.set_target(PointTarget(x=0.9, y=0.9), scene.observation())
    for _ in range(100):
        if layer.done:
            break
        layer.command(scene.ee, scene.opening)  # the arm never moves
    assert layer.status == "timeout"


def test_set_target_again_replans() -> None:
    scene = Scene()
    layer = MotorLayer()
    layer.set_target(PointTarget(x=0.1, y=0.1), scene.observation())
    for _ in range(3):
        scene.step(layer.command(scene.ee), 0.05)
    layer.set_target(PointTarget(x=0.5, y=0.5), scene.observation())
    np.testing.assert_allclose(layer.goal, [0.0, 0.0, 0.0], atol=1e-3)
    scene.run(layer)
    assert np.linalg.norm(scene.ee) <= layer.config.tolerance
    layer.set_target(PointTarget(x=0.2, y=0.2), scene.observation())
    layer.clear()
    assert layer.done and layer.status == "idle" and layer.goal is None


def push_drag(scene: Scene, to_xy: tuple[float, float]) -> Drag:
    """A drag from the top of the scene's cube to a point of the table."""
    x, y = project(scene.block + np.array([0, 0, BLOCK / 2]), scene.cam, scene.size)
    to_x, to_y = project(np.array([*to_xy, 0.0]), scene.cam, scene.size)
    return Drag(x=x, y=y, to_x=to_x, to_y=to_y)


def test_drag_pushes_the_object_along_the_table() -> None:
    scene = Scene(block_xy=(-0.1, 0.05))
    scene.ee = np.array([0.1, 0.12, 0.2])
    config = MotorConfig()
    layer = MotorLayer(config)
    drag = push_drag(scene, (0.12, -0.08))
    layer.set_target(drag, scene.observation(), scene.ee)
    u = np.array([0.22, -0.13]) / np.linalg.norm([0.22, -0.13])
    begin = np.array([*(np.array([-0.1, 0.05]) - config.push_backoff * u), BLOCK / 2])
    np.testing.assert_allclose(layer.goal, begin + np.array([0, 0, config.hover_height]), atol=3e-3)
    scene.run(layer)
    assert layer.status == "done"
    phases = [p for p, _, _ in scene.log]
    assert list(dict.fromkeys(phases)) == ["approach", "descend", "push", None]  # None: done
    before = [ee for p, _, ee in scene.log if p != "push"]
    assert all(np.linalg.norm(ee[:2] - [-0.1, 0.05]) > CONTACT or ee[2] > BLOCK for ee in before)
    pushes = [c for p, c, _ in scene.log if p == "push"]
    assert max(max(abs(c.dx), abs(c.dy), abs(c.dz)) for c in pushes) <= config.push_speed + 1e-9
    # the push stops push_contact short of the end, the scene's contact distance: the cube's
    # centre lands on the end
    assert config.push_contact == CONTACT
    assert np.linalg.norm(scene.block[:2] - [0.12, -0.08]) < 0.005
    # looked at again, the push is lined up behind the cube: it goes straight on
    layer.set_target(push_drag(scene, (0.14, -0.09)), scene.observation(), scene.ee)
    assert layer.phase == "push"
    # without the gripper's position, or from low beside the cube, the push starts over
    layer.set_target(push_drag(scene, (0.14, -0.09)), scene.observation())
    assert layer.phase == "approach"
    beside = scene.block + np.array([0.0, 0.06, -BLOCK / 4])
    layer.set_target(push_drag(scene, (0.14, -0.09)), scene.observation(), beside)
    assert layer.phase == "rise"
    np.testing.assert_allclose(layer.goal[:2], beside[:2])
    # a drag that ends where it starts is nothing to do
    layer.set_target(push_drag(scene, tuple(scene.block[:2])), scene.observation(), scene.ee)
    assert layer.done and layer.status == "idle"


def test_a_descent_into_the_table_ends_on_contact_and_the_push_goes_on() -> None:
    # the drag starts on the table beside the cube (a model's point that misses its top face):
    # the push height, push_offset under the surface seen there, lies under the table
    scene = Scene(block_xy=(-0.1, 0.0))
    scene.ee = np.array([-0.2, 0.0, 0.2])
    x, y = project(np.array([-0.1 - BLOCK / 2 - 0.01, 0.0, 0.0]), scene.cam, scene.size)
    to_x, to_y = project(np.array([0.1, 0.0, 0.0]), scene.cam, scene.size)
    config = MotorConfig(max_steps=100)
    layer = MotorLayer(config)
    layer.set_target(Drag(x=x, y=y, to_x=to_x, to_y=to_y), scene.observation(), scene.ee)
    steps = scene.run(layer)
    assert layer.status == "done" and steps < config.max_steps
    phases = [p for p, _, _ in scene.log]
    assert list(dict.fromkeys(phases)) == ["approach", "descend", "push", None]
    assert scene.block[0] > 0.0  # pushed most of the way (the end less the backoff)
    # a stage that cannot end on contact still times out (`test_unreachable_goal_times_out`)
    layer = MotorLayer(MotorConfig(max_steps=100, stall_steps=200))
    scene = Scene(block_xy=(-0.1, 0.0))
    scene.ee = np.array([-0.2, 0.0, 0.2])
    layer.set_target(Drag(x=x, y=y, to_x=to_x, to_y=to_y), scene.observation(), scene.ee)
    scene.run(layer)
    assert layer.status == "timeout"


def test_a_waypoint_out_of_reach_is_passed_over() -> None:
    # the arm cannot rise above 6 cm, so the approach 10 cm above the place is out of reach
    scene = Scene()
    scene.ee = np.array([0.1, 0.1, 0.05])
    layer = MotorLayer(MotorConfig(max_steps=60))
    layer.set_target(scene.target([0.0, 0.0, 0.0], "open"), scene.observation())
    for _ in range(100):
        if layer.done:
            break
        scene.log.append((layer.phase, None, scene.ee.copy()))
        scene.step(layer.command(scene.ee, scene.opening), 0.05)
        scene.ee[2] = min(scene.ee[2], 0.06)
    phases = list(dict.fromkeys(p for p, _, _ in scene.log))
    assert phases[:3] == ["approach", "descend", "release"]
    at = np.array([0.0, 0.0, layer.config.place_offset])
    assert min(np.linalg.norm(ee - at) for p, _, ee in scene.log if p == "release") < 0.01


def arm_over(observation: Observation, points: list[tuple[float, float]]) -> Observation:
    """``observation`` with the arm (0.3 m above the table) in front of each point."""
    depth = observation.depth.copy()
    rows, width = depth.shape
    for x, y in points:
        px, py = int(x * width), int(y * rows)
        depth[max(py - 4, 0) : py + 5, max(px - 4, 0) : px + 5] = CAM_HEIGHT - 0.3
    return observation.model_copy(update={"depth": depth})


def test_a_push_sees_past_the_arm_in_front_of_its_points() -> None:
    scene = Scene(block_xy=(-0.1, 0.05))
    drag = push_drag(scene, (0.12, -0.08))
    clear = scene.observation()
    start, end = (drag.x, drag.y), (drag.to_x, drag.to_y)
    far = np.array([0.2, 0.2, 0.2])
    layer = MotorLayer()
    layer.set_target(drag, clear, far)
    approach = layer.goal  # above the push's start, behind the cube
    begin = approach - layer.config.hover_height * np.array([0.0, 0.0, 1.0])
    layer.set_target(drag, clear, begin)
    assert layer.phase == "push"
    push_goal = layer.goal
    # looked at again with the arm over the cube and the end: the heights of the last look hold
    layer.set_target(drag, arm_over(clear, [start, end]), far)
    np.testing.assert_allclose(layer.goal, approach, atol=1e-9)
    layer.set_target(drag, arm_over(clear, [start, end]), begin)
    np.testing.assert_allclose(layer.goal, push_goal, atol=1e-9)
    # at a first look, an end read above the start is the arm too: it is placed at the start's
    # height (the cube's top, 5 cm above the table the end lies on: 6 mm off seen from above)
    first = MotorLayer()
    first.set_target(drag, arm_over(clear, [end]), begin)
    assert first.phase == "push" and np.linalg.norm(first.goal - push_goal) < 0.01
    # with nothing seen before, the arm over the start is taken for the object's top
    first.clear()
    first.set_target(drag, arm_over(clear, [start]), far)
    assert first.goal[2] > approach[2] + 0.2


def test_ray_at_height_meets_the_point_that_projects_there() -> None:
    scene = Scene()
    world = np.array([0.07, -0.12, 0.04])
    point = project(world, scene.cam, scene.size)
    np.testing.assert_allclose(ray_at_height(point, scene.cam, scene.size, 0.04), world, atol=1e-9)
    with pytest.raises(GroundingError, match="never reaches"):
        ray_at_height(point, scene.cam, scene.size, CAM_HEIGHT + 0.5)  # above the camera


def test_ee_delta_passes_through_clipped() -> None:
    layer = MotorLayer(MotorConfig(max_step=0.5))
    obs = Observation(image=np.zeros((4, 4, 3), np.uint8), instruction="")
    layer.set_target([EEDelta(dx=1.0, dy=-0.2), EEDelta(dz=-0.9, gripper=-1.0)], obs)
    first = layer.command(np.zeros(3))
    assert (first.dx, first.dy, first.dz, first.gripper) == (0.5, -0.2, 0.0, 0.0)
    assert not layer.done
    assert layer.command(np.zeros(3)) == EEDelta(dz=-0.5, gripper=-1.0)
    assert layer.done and layer.status == "done"
    assert layer.command(np.zeros(3)) == EEDelta(gripper=-1.0)


@given(values=st.lists(st.floats(-5, 5), min_size=3, max_size=4), bound=st.floats(0.0, 1.0))
def test_clip_ee_delta(values: list[float], bound: float) -> None:
    out = clip_ee_delta(values, -bound, bound)
    for got, raw in zip((out.dx, out.dy, out.dz), values, strict=False):
        assert got == min(max(raw, -bound), bound)
    assert out.gripper == (min(max(values[3], -1), 1) if len(values) == 4 else 0.0)


def test_clip_ee_delta_refuses_bad_input() -> None:
    with pytest.raises(ActionError, match="finite"):
        clip_ee_delta([0.0, math.nan, 0.0])
    with pytest.raises(ActionError, match="3 or 4"):
        clip_ee_delta([0.0, 0.0])
    with pytest.raises(ValueError, match="low"):
        clip_ee_delta(EEDelta(), 0.5, -0.5)


def test_grounding_needs_depth_and_camera() -> None:
    layer = MotorLayer()
    bare = Observation(image=np.zeros((4, 4, 3), np.uint8), instruction="")
    with pytest.raises(GroundingError, match="depth and camera"):
        layer.set_target(PointTarget(x=0.5, y=0.5), bare)
    scene = Scene()
    holes = scene.observation().model_copy(update={"depth": np.zeros((96, 96), np.float32)})
    with pytest.raises(GroundingError, match="no valid depth"):
        layer.set_target(PointTarget(x=0.5, y=0.5), holes)
    with pytest.raises(ActionError, match="not a motor action"):
        layer.set_target([PointTarget(x=0.5, y=0.5), Click(x=0.5, y=0.5)], scene.observation())
    assert layer.done and layer.status == "idle"


@given(x=st.floats(0, 1), y=st.floats(0, 1), grip=st.sampled_from(["keep", "close", "open"]))
def test_point_target_gripper_round_trips_through_text(x: float, y: float, grip: str) -> None:
    action = PointTarget(x=x, y=y, gripper=grip)
    text = action.to_text()
    assert ("gripper" in text) == (grip != "keep")
    parsed = parse_action(text)
    assert parsed.gripper == grip and parse_action(action.to_json()) == action


def test_parse_chunk() -> None:
    text = 'point_target(500, 400, gripper="close")\n\npoint_target(200, 300, gripper="open")\n'
    assert parse_chunk(text) == [
        PointTarget(x=0.5, y=0.4, gripper="close"),
        PointTarget(x=0.2, y=0.3, gripper="open"),
    ]
    assert parse_chunk("```\nee_delta(0.5, 0, 0, 1)\n```") == [EEDelta(dx=0.5, gripper=1.0)]
    listed = '[{"type": "ee_delta", "dz": -1}, {"type": "point_target", "x": 0.1, "y": 0.2}]'
    assert parse_chunk(listed) == [EEDelta(dz=-1.0), PointTarget(x=0.1, y=0.2)]
    assert parse_chunk("drag(100, 200, 300, 400)") == [Drag(x=0.1, y=0.2, to_x=0.3, to_y=0.4)]
    with pytest.raises(ParseError, match="not a motor action"):
        parse_chunk("point_target(1, 2)\nclick(3, 4)")
    with pytest.raises(ParseError, match="at most 2"):
        parse_chunk("ee_delta()\nee_delta()\nee_delta()", max_actions=2)
    with pytest.raises(ParseError, match="no action"):
        parse_chunk("  \n")
    with pytest.raises(ParseError):
        parse_chunk("[1, 2")
    assert Wait().type not in {a.type for a in parse_chunk("ee_delta()")}
