"""Real cameras as observations: OpenCV ``VideoCapture`` (the ``robot`` extra).

:class:`CameraSource` reads a device index (``0``), a video file, or a stream URL (``rtsp://``,
``http://``) and returns :class:`~actions.schema.Observation` s like a simulator's: RGB uint8
``image``, ``instruction``, ``step`` (the frame's index in the stream, so a gap shows frames
that were dropped), ``timestamp`` (``time.time()`` when the frame was read) and, with a
calibration, ``camera``. Two modes:

* ``"latest"`` (default for devices and URLs): a background thread reads frames as they come
  and keeps only the newest, so a slow agent always sees the present, never a backlog. A file
  in this mode is played at its own frame rate (real-time pacing), dropping what the agent
  misses, as a live camera would.
* ``"sequential"`` (default for files): each :meth:`CameraSource.observe` reads the next frame;
  nothing is dropped (replaying a recording frame by frame).

Calibration files (:func:`load_calibration`) are JSON or OpenCV FileStorage YAML/XML holding
``camera_matrix`` (OpenCV's ``K``, pixel centres at integers; shifted by half a pixel to the
SDK's convention, see :mod:`actions.motor`), optionally ``image_width``/``image_height`` (the
size ``K`` belongs to; ``K`` is rescaled to the frames' size), ``distortion_coefficients``
(frames are then undistorted) and ``extrinsics`` (4x4 camera-to-world, OpenCV frame, metres;
the identity when absent, so the world is the camera frame).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Literal

import numpy as np

from actions.errors import CameraUnavailable
from actions.schema import CameraInfo, Observation

logger = logging.getLogger(__name__)

INSTALL = 'pip install "fastvlm-agent-sdk[robot]"'

Source = int | str | Path
Mode = Literal["latest", "sequential"]


def _cv2() -> ModuleType:
    try:
        return importlib.import_module("cv2")
    except ImportError as err:
        raise CameraUnavailable(f"OpenCV (cv2) is not installed: {INSTALL}") from err


@dataclass(frozen=True)
class Calibration:
    """A camera's intrinsics (SDK convention), the image size they belong to, its lens
    distortion (OpenCV's coefficients) and its pose."""

    intrinsics: np.ndarray
    extrinsics: np.ndarray
    image_size: tuple[int, int] | None = None  # (width, height)
    distortion: np.ndarray | None = None

    def camera(self, width: int, height: int) -> CameraInfo:
        """``CameraInfo`` for frames of ``width`` x ``height`` pixels (``K`` rescaled)."""
        k = self.intrinsics.copy()
        if self.image_size is not None:
            k[0] *= width / self.image_size[0]
            k[1] *= height / self.image_size[1]
        return CameraInfo(intrinsics=k, extrinsics=self.extrinsics)


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration file (``.json``, or OpenCV FileStorage ``.yaml``/``.yml``/``.xml``)."""
    path = Path(path)
    if not path.is_file():
        raise CameraUnavailable(f"calibration file {path} does not exist")
    try:
        fields = _read_json(path) if path.suffix.lower() == ".json" else _read_storage(path)
        k = np.asarray(fields["camera_matrix"], dtype=np.float64).reshape(3, 3)
    except KeyError:
        raise CameraUnavailable(f"calibration file {path} has no camera_matrix") from None
    except (ValueError, TypeError) as err:
        raise CameraUnavailable(f"calibration file {path} is not valid: {err}") from None
    k[0, 2] += 0.5  # OpenCV puts pixel centres at integers; the SDK at i + 0.5
    k[1, 2] += 0.5
    pose = fields.get("extrinsics")
    size = (fields.get("image_width"), fields.get("image_height"))
    dist = fields.get("distortion_coefficients")
    dist = None if dist is None else np.asarray(dist, dtype=np.float64).ravel()
    try:  # CameraInfo checks shapes and finiteness
        info = CameraInfo(intrinsics=k, extrinsics=np.eye(4) if pose is None else pose)
    except ValueError as err:
        raise CameraUnavailable(f"calibration file {path} is not valid: {err}") from None
    return Calibration(
        intrinsics=info.intrinsics,
        extrinsics=info.extrinsics,
        image_size=(int(size[0]), int(size[1])) if None not in size else None,
        distortion=None if dist is None or not dist.any() else dist,
    )


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    for key, value in data.items():  # OpenCV-style {"rows": 3, "cols": 3, "data": [...]}
        if isinstance(value, dict) and "data" in value:
            data[key] = value["data"]
    return data


def _read_storage(path: Path) -> dict[str, Any]:
    cv2 = _cv2()
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    if not fs.isOpened():
        raise ValueError("OpenCV FileStorage cannot read it (use YAML, XML or .json)")
    try:
        fields: dict[str, Any] = {}
        for key in ("camera_matrix", "distortion_coefficients", "extrinsics"):
            node = fs.getNode(key)
            if not node.empty():
                fields[key] = node.mat()
        for key in ("image_width", "image_height"):
            node = fs.getNode(key)
            if not node.empty():
                fields[key] = int(node.real())
        return fields
    finally:
        fs.release()


class CameraSource:
    """Frames of a camera, video file or stream as observations (see the module docstring).

    ``source`` is a device index, a file path or a URL; ``mode`` is ``"latest"`` or
    ``"sequential"`` (default: sequential for files, latest otherwise); ``calibration`` a file
    or a :class:`Calibration`; ``timeout`` how long :meth:`observe` waits for a frame. Use as a
    context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        source: Source,
        *,
        instruction: str = "",
        mode: Mode | None = None,
        calibration: str | Path | Calibration | None = None,
        timeout: float = 5.0,
    ) -> None:
        cv2 = _cv2()
        self.source = source
        self.instruction = instruction
        self.timeout = timeout
        is_file = isinstance(source, Path) or (
            isinstance(source, str) and "://" not in source and not source.isdigit()
        )
        if is_file and not Path(source).is_file():
            raise CameraUnavailable(f"video file {source} does not exist")
        self.mode: Mode = mode or ("sequential" if is_file else "latest")
        if isinstance(calibration, (str, Path)):
            calibration = load_calibration(calibration)
        self.calibration = calibration
        target = int(source) if isinstance(source, str) and source.isdigit() else source
        self._cap = cv2.VideoCapture(str(target) if isinstance(target, Path) else target)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraUnavailable(
                f"cannot open camera source {source!r}: check that the device exists "
                "(ls /dev/video*) and no other program holds it, that the file is a video "
                "OpenCV can decode, or that the URL answers (try it in ffplay or VLC)"
            )
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self._period = 1.0 / fps if is_file and self.mode == "latest" and fps > 0 else 0.0
        self._maps: tuple[np.ndarray, np.ndarray] | None = None
        self._cond = threading.Condition()
        self._latest: tuple[int, float, np.ndarray] | None = None
        self._read = 0  # frames read from the source
        self._seen = -1  # index of the last frame returned
        self._ended = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.mode == "latest":
            self._thread = threading.Thread(target=self._reader, name="camera-reader", daemon=True)
            self._thread.start()

    @property
    def frames_read(self) -> int:
        """Frames read from the source so far (in latest mode, including dropped ones)."""
        return self._read

    @property
    def ended(self) -> bool:
        """Whether the source has no more frames (end of file, or a stream that stopped)."""
        return self._ended

    def _grab(self) -> tuple[int, float, np.ndarray] | None:
        ok, frame = self._cap.read()
        if not ok or frame is None:
            return None
        stamp = time.time()
        index, self._read = self._read, self._read + 1
        return index, stamp, frame

    def _reader(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            grabbed = self._grab()
            with self._cond:
                if grabbed is None:
                    self._ended = True
                else:
                    self._latest = grabbed
                self._cond.notify_all()
            if grabbed is None:
                return
            if self._period:
                self._stop.wait(max(0.0, start + self._read * self._period - time.monotonic()))

    def observe(self) -> Observation:
        """The newest frame not returned before (latest mode), or the next frame (sequential).

        Raises :class:`CameraUnavailable` when the source has ended or no frame came within
        ``timeout`` seconds.
        """
        if self._thread is None:
            grabbed = self._grab()
            if grabbed is None:
                self._ended = True
                raise CameraUnavailable(f"camera source {self.source!r} has no more frames")
        else:
            with self._cond:
                self._cond.wait_for(lambda: self._ended or self._fresh(), self.timeout)
                if not self._fresh():
                    why = (
                        "has no more frames"
                        if self._ended
                        else f"sent no frame in {self.timeout} s"
                    )
                    raise CameraUnavailable(f"camera source {self.source!r} {why}")
                grabbed = self._latest
        index, stamp, frame = grabbed
        self._seen = index
        return self._observation(index, stamp, frame)

    def _fresh(self) -> bool:
        return self._latest is not None and self._latest[0] > self._seen

    def _observation(self, index: int, stamp: float, frame: np.ndarray) -> Observation:
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        height, width = frame.shape[:2]
        camera = None
        if self.calibration is not None:
            camera = self.calibration.camera(width, height)
            if self.calibration.distortion is not None:
                frame = self._undistort(frame, camera)
        image = np.ascontiguousarray(frame[:, :, 2::-1])  # BGR(A) to RGB
        return Observation(
            image=image, instruction=self.instruction, step=index, timestamp=stamp, camera=camera
        )

    def _undistort(self, frame: np.ndarray, camera: CameraInfo) -> np.ndarray:
        cv2 = _cv2()
        height, width = frame.shape[:2]
        if self._maps is None or self._maps[0].shape[:2] != (height, width):
            k = camera.intrinsics.copy()
            k[:2, 2] -= 0.5  # back to OpenCV's pixel centres
            self._maps = cv2.initUndistortRectifyMap(
                k, self.calibration.distortion, None, k, (width, height), cv2.CV_32FC1
            )
        return cv2.remap(frame, *self._maps, cv2.INTER_LINEAR)

    def __iter__(self) -> Iterator[Observation]:
        """Observations until the source ends."""
        while True:
            try:
                yield self.observe()
            except CameraUnavailable:
                if self._ended:
                    return
                raise

    def close(self) -> None:
        """Stop the reader and release the device; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout)
        self._cap.release()

    def __enter__(self) -> CameraSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
