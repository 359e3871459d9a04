"""Real-camera observations from video written here with OpenCV: order, latest-frame semantics,
calibration files and clear errors."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from needs import need

from actions.camera import CameraSource, load_calibration
from actions.errors import CameraUnavailable

try:
    import cv2
except ImportError:
    cv2 = None


MISSING = None if cv2 is not None else 'OpenCV is not installed: pip install -e ".[robot]"'
FRAMES, W, H = 30, 64, 48
K_CV = [[50.0, 0.0, 31.5], [0.0, 50.0, 23.5], [0.0, 0.0, 1.0]]  # OpenCV: centred principal point


@pytest.fixture(autouse=True)
def _opencv() -> None:
    need(MISSING)


def frame_index(image: np.ndarray) -> int:
    """The index written into a frame: its blue channel is 8 * index, red is 200."""
    assert abs(float(image[..., 0].mean()) - 200) < 6  # RGB order: red first
    return round(float(image[..., 2].mean()) / 8)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short MJPG video whose frames encode their index (see frame_index)."""
    need(MISSING)
    path = tmp_path_factory.mktemp("video") / "count.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 200.0, (W, H))
    assert writer.isOpened()
    for i in range(FRAMES):
        frame = np.zeros((H, W, 3), np.uint8)
        frame[..., 0] = 8 * i  # blue, in OpenCV's BGR
        frame[..., 2] = 200  # red
        writer.write(frame)
    writer.release()
    return path


def test_sequential_file_gives_every_frame_in_order(video: Path) -> None:
    with CameraSource(video, instruction="watch") as cam:
        assert cam.mode == "sequential"
        observations = list(cam)
    assert [frame_index(o.image) for o in observations] == list(range(FRAMES))
    assert [o.step for o in observations] == list(range(FRAMES))
    first = observations[0]
    assert first.image.shape == (H, W, 3) and first.image.dtype == np.uint8
    assert first.instruction == "watch" and first.camera is None
    assert first.timestamp is not None and abs(first.timestamp - time.time()) < 60
    with pytest.raises(CameraUnavailable, match="no more frames"):
        cam.observe()


def wait_for(condition, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the reader thread made no progress"
        time.sleep(0.005)


def test_latest_mode_drops_the_backlog(video: Path) -> None:
    with CameraSource(str(video), mode="latest") as cam:
        wait_for(lambda: cam.ended)  # the whole file was read while nobody looked
        assert cam.frames_read == FRAMES
        last = cam.observe()
        assert frame_index(last.image) == FRAMES - 1 and last.step == FRAMES - 1
        with pytest.raises(CameraUnavailable, match="no more frames"):
            cam.observe()


def test_slow_consumer_sees_recent_frames(video: Path) -> None:
    with CameraSource(video, mode="latest") as cam:
        steps = [cam.observe().step]
        while steps[-1] < FRAMES - 1:
            wait_for(lambda: cam.ended or cam.frames_read > steps[-1] + 3)  # a slow agent
            newest = cam.frames_read - 1
            obs = cam.observe()
            assert obs.step >= newest  # the newest frame at the time, not the next one queued
            assert frame_index(obs.image) == obs.step
            steps.append(obs.step)
        assert len(steps) <= FRAMES // 3 + 1  # the rest were dropped
    assert cam._thread is not None and not cam._thread.is_alive()


def test_json_calibration(tmp_path: Path, video: Path) -> None:
    pose = np.eye(4)
    pose[:3, 3] = [0.1, 0.2, 0.9]
    path = tmp_path / "cam.json"
    path.write_text(
        json.dumps(
            {
                "camera_matrix": {"rows": 3, "cols": 3, "data": [v for row in K_CV for v in row]},
                "image_width": 2 * W,
                "image_height": 2 * H,
                "extrinsics": pose.tolist(),
            }
        )
    )
    calib = load_calibration(path)
    assert calib.intrinsics[0, 2] == 32.0 and calib.intrinsics[1, 2] == 24.0  # + half a pixel
    assert calib.image_size == (2 * W, 2 * H) and calib.distortion is None
    with CameraSource(video, calibration=path) as cam:
        obs = cam.observe()
    assert obs.camera is not None
    np.testing.assert_allclose(obs.camera.intrinsics, [[25, 0, 16], [0, 25, 12], [0, 0, 1]])
    np.testing.assert_allclose(obs.camera.extrinsics, pose)


def test_opencv_yaml_calibration_with_distortion(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "cam.yaml"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write("camera_matrix", np.array(K_CV))
    fs.write("distortion_coefficients", np.array([[0.1, -0.05, 0.0, 0.0, 0.0]]))
    fs.write("image_width", W)
    fs.write("image_height", H)
    fs.release()
    calib = load_calibration(path)
    np.testing.assert_allclose(calib.intrinsics[:2, 2], [32.0, 24.0])
    np.testing.assert_allclose(calib.extrinsics, np.eye(4))
    assert calib.distortion is not None and calib.distortion.shape == (5,)
    with CameraSource(video, calibration=calib) as cam:
        obs = cam.observe()
    assert obs.image.shape == (H, W, 3)
    assert abs(int(obs.image[H // 2, W // 2, 0]) - 200) < 6  # the centre stays put


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"image_width": 10}, "no camera_matrix"),
        ({"camera_matrix": [1, 2, 3]}, "not valid"),
        ({"camera_matrix": K_CV, "extrinsics": [[1, 0], [0, 1]]}, "4x4"),
    ],
)
def test_bad_calibration_files(tmp_path: Path, content: dict, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(CameraUnavailable, match=match):
        load_calibration(path)
    with pytest.raises(CameraUnavailable, match="does not exist"):
        load_calibration(tmp_path / "missing.yaml")


def test_unopenable_sources(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="does not exist"):
        CameraSource(tmp_path / "missing.avi")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(CameraUnavailable, match=r"cannot open camera source .*junk\.avi"):
        CameraSource(junk)


def test_missing_opencv_names_the_extra(monkeypatch: pytest.MonkeyPatch, video: Path) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(CameraUnavailable, match=r"fastvlm-agent-sdk\[robot\]"):
        CameraSource(video)
