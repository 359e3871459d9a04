"""Coordinate conversions: round trips, HiDPI and multi-monitor frames, refusals."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from actions.coords import (
    MODEL_SCALE,
    ScreenFrame,
    model_to_norm,
    norm_to_model,
    norm_to_pixels,
    pixels_to_norm,
)
from actions.errors import CoordinateError

SCALES = (1.0, 1.25, 1.5, 2.0)
BAD = (-0.001, 1.0001, -1.0, 2.0, math.nan, math.inf, -math.inf)

unit = st.floats(0.0, 1.0)
sizes = st.integers(1, 8000)


@pytest.mark.parametrize(("width", "height"), [(1, 1), (3, 7), (160, 210), (17, 1)])
def test_every_pixel_maps_back_to_itself_small(width: int, height: int) -> None:
    for px in range(width):
        for py in range(height):
            x, y = pixels_to_norm(px, py, width, height)
            assert 0.0 < x < 1.0 and 0.0 < y < 1.0
            assert norm_to_pixels(x, y, width, height) == (px, py)


@settings(max_examples=500)
@given(st.data(), sizes, sizes)
def test_every_pixel_maps_back_to_itself(data: st.DataObject, width: int, height: int) -> None:
    px = data.draw(st.integers(0, width - 1))
    py = data.draw(st.integers(0, height - 1))
    assert norm_to_pixels(*pixels_to_norm(px, py, width, height), width, height) == (px, py)


@given(unit, unit, sizes, sizes)
def test_norm_to_pixels_stays_in_the_image(x: float, y: float, width: int, height: int) -> None:
    px, py = norm_to_pixels(x, y, width, height)
    assert 0 <= px < width and 0 <= py < height
    # the pixel's centre is within half a pixel of the point (the last row/column holds 1.0)
    cx, cy = pixels_to_norm(px, py, width, height)
    assert abs(cx - x) * width <= 0.5 + 1e-9
    assert abs(cy - y) * height <= 0.5 + 1e-9


def test_model_units_round_trip_exhaustively() -> None:
    for k in range(MODEL_SCALE + 1):
        v = model_to_norm(k)
        assert 0.0 <= v <= 1.0
        assert norm_to_model(v) == k
        assert model_to_norm(norm_to_model(v)) == v


@given(unit)
def test_norm_to_model_quantises_to_the_nearest_unit(v: float) -> None:
    k = norm_to_model(v)
    assert isinstance(k, int) and 0 <= k <= MODEL_SCALE
    assert abs(model_to_norm(k) - v) <= 0.5 / MODEL_SCALE + 1e-12


@pytest.mark.parametrize("v", [-1, 1001, -0.5, 1000.5, math.nan, math.inf, -math.inf])
def test_model_to_norm_refuses_out_of_range(v: float) -> None:
    with pytest.raises(CoordinateError, match=r"outside 0\.\.1000"):
        model_to_norm(v)


@pytest.mark.parametrize("v", BAD)
def test_norm_to_model_refuses_out_of_range(v: float) -> None:
    with pytest.raises(CoordinateError, match="outside the image"):
        norm_to_model(v)


@pytest.mark.parametrize("bad", BAD)
def test_norm_to_pixels_refuses_points_outside(bad: float) -> None:
    for x, y in ((bad, 0.5), (0.5, bad)):
        with pytest.raises(CoordinateError):
            norm_to_pixels(x, y, 100, 100)


@pytest.mark.parametrize(("px", "py"), [(-1, 0), (0, -1), (100, 0), (0, 50), (10**9, 10**9)])
def test_pixels_to_norm_refuses_pixels_outside(px: int, py: int) -> None:
    with pytest.raises(CoordinateError, match="outside the 100x50 image"):
        pixels_to_norm(px, py, 100, 50)


# --- ScreenFrame -------------------------------------------------------------------------------

frames = st.builds(
    ScreenFrame,
    width=st.integers(1, 6000),
    height=st.integers(1, 4000),
    left=st.integers(-4000, 8000).map(float),
    top=st.integers(-2000, 4000).map(float),
    scale=st.sampled_from(SCALES),
)


@settings(max_examples=500)
@given(frames, st.data())
def test_screen_to_norm_to_screen_within_one_point(frame: ScreenFrame, data: st.DataObject) -> None:
    w_pts = frame.width / frame.scale
    h_pts = frame.height / frame.scale
    sx = frame.left + data.draw(st.integers(0, max(math.ceil(w_pts) - 1, 0)))
    sy = frame.top + data.draw(st.integers(0, max(math.ceil(h_pts) - 1, 0)))
    if not frame.contains_screen(sx, sy):  # a partial last point of an odd HiDPI size
        return
    x, y = frame.from_screen(sx, sy)
    assert 0.0 <= x < 1.0 and 0.0 <= y < 1.0
    bx, by = frame.to_screen(x, y)
    assert abs(bx - sx) <= 1 and abs(by - sy) <= 1
    assert frame.contains_screen(bx, by)


@settings(max_examples=500)
@given(frames, unit, unit)
def test_to_screen_lands_inside_the_frame(frame: ScreenFrame, x: float, y: float) -> None:
    sx, sy = frame.to_screen(x, y)
    assert isinstance(sx, int) and isinstance(sy, int)
    assert frame.contains_screen(sx, sy)
    nx, ny = frame.from_screen(sx, sy)
    # back within one screen point (flooring), plus the half pixel that keeps x == 1 inside
    slack = 1 + 0.5 / frame.scale + 1e-9
    assert abs(nx - x) * frame.width / frame.scale <= slack
    assert abs(ny - y) * frame.height / frame.scale <= slack


@given(frames, unit, unit)
def test_to_pixels_matches_norm_to_pixels(frame: ScreenFrame, x: float, y: float) -> None:
    assert frame.to_pixels(x, y) == norm_to_pixels(x, y, frame.width, frame.height)


@pytest.mark.parametrize("scale", SCALES)
def test_hidpi_corners(scale: float) -> None:
    frame = ScreenFrame(width=2880, height=1800, scale=scale)
    assert frame.to_screen(0.0, 0.0) == (0, 0)
    assert frame.to_screen(1.0, 1.0) == (
        math.floor((2880 - 0.5) / scale),
        math.floor((1800 - 0.5) / scale),
    )
    assert frame.to_screen(0.5, 0.5) == (math.floor(1440 / scale), math.floor(900 / scale))
    assert frame.from_screen(0, 0) == (0.0, 0.0)


@pytest.mark.parametrize("bad", BAD)
def test_to_screen_refuses_points_outside(bad: float) -> None:
    frame = ScreenFrame(width=100, height=100, left=1920, scale=2.0)
    for x, y in ((bad, 0.5), (0.5, bad)):
        with pytest.raises(CoordinateError):
            frame.to_screen(x, y)


@pytest.mark.parametrize(
    ("sx", "sy"),
    [(-1, 0), (0, -1), (1280, 0), (0, 800), (1280.25, 0), (math.nan, 0), (0, math.inf)],
)
def test_from_screen_refuses_points_outside(sx: float, sy: float) -> None:
    frame = ScreenFrame(width=2560, height=1600, scale=2.0)  # 1280 x 800 points
    with pytest.raises(CoordinateError, match="outside the frame"):
        frame.from_screen(sx, sy)
    assert not frame.contains_screen(sx, sy)


def test_multi_monitor_second_screen() -> None:
    primary = ScreenFrame(width=1920, height=1080)
    second = ScreenFrame(width=2560, height=1440, left=1920, top=0)
    assert second.to_screen(0.0, 0.0) == (1920, 0)
    assert second.to_screen(0.5, 0.5) == (1920 + 1280, 720)
    assert second.to_screen(1.0, 1.0) == (1920 + 2559, 1439)
    assert second.from_screen(1920 + 1280, 720) == (0.5, 0.5)
    # a point on the primary monitor is refused by the second monitor's frame, and vice versa
    with pytest.raises(CoordinateError, match="capture the monitor that holds it"):
        second.from_screen(100, 100)
    with pytest.raises(CoordinateError):
        primary.from_screen(1920 + 5, 5)
    assert primary.contains_screen(1919, 1079) and not primary.contains_screen(1920, 0)
    assert second.contains_screen(1920, 0) and not second.contains_screen(1919, 0)


def test_multi_monitor_hidpi_second_screen() -> None:
    # a Retina screen of 3840x2160 pixels = 1920x1080 points, right of a 1920-point monitor
    frame = ScreenFrame(width=3840, height=2160, left=1920, top=0, scale=2.0)
    assert frame.to_screen(0.0, 0.0) == (1920, 0)
    assert frame.to_screen(1.0, 1.0) == (1920 + 1919, 1079)
    assert frame.from_screen(1920 + 960, 540) == (0.5, 0.5)
    assert frame.to_pixels(0.5, 0.5) == (1920, 1080)


def test_monitor_left_of_the_primary() -> None:
    frame = ScreenFrame(width=1280, height=1024, left=-1280, top=-200)
    assert frame.to_screen(0.0, 0.0) == (-1280, -200)
    assert frame.to_screen(1.0, 1.0) == (-1, 823)
    assert frame.from_screen(-640, 312) == (0.5, 0.5)
    with pytest.raises(CoordinateError):
        frame.from_screen(0, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"width": 0, "height": 10},
        {"width": 10, "height": -1},
        {"width": 10, "height": 10, "scale": 0},
        {"width": 10, "height": 10, "scale": -2.0},
    ],
)
def test_screen_frame_validates(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ScreenFrame(**kwargs)


def test_screen_frame_is_frozen() -> None:
    frame = ScreenFrame(width=10, height=10)
    with pytest.raises(ValidationError):
        frame.width = 20  # type: ignore[misc]
