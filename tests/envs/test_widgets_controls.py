"""Behaviour of the rich controls (Paragraph, Slider, ListBox, Shape) through a Scene."""

from __future__ import annotations

import numpy as np
import pytest

from envs.ui.canvas import Rect
from envs.ui.scene import Scene
from envs.ui.style import Style, sample_style
from envs.ui.widgets.controls import SHAPE_KINDS, ListBox, Paragraph, Run, Shape, Slider


@pytest.fixture(params=["light", "dark"])
def style(request: pytest.FixtureRequest) -> Style:
    return sample_style(np.random.default_rng(0), 320, 240, request.param)


@pytest.fixture
def scene(style: Style) -> Scene:
    return Scene(320, 240, style)


def test_paragraph_wraps_and_hits_links(scene: Scene, style: Style) -> None:
    clicked: list[str] = []
    runs = [Run("Please read the "), Run("maple", True), Run(" notes and the "),
            Run("river guide", True), Run(" before a long trip to the "), Run("cedar", True),
            Run(".")]  # fmt: skip
    para = scene.add(Paragraph.wrapped(style, 10, 20, 120, runs, on_link=clicked.append))
    assert isinstance(para, Paragraph)
    assert set(para.links) == {"maple", "river guide", "cedar"}
    assert para.rect.w <= 120 and para.rect.h > 2 * style.line_h  # wrapped over several lines
    for text, rects in para.links.items():
        assert all(r.inside(para.rect) for r in rects)
        scene.click(*rects[-1].center)
        assert clicked[-1] == text
    n = len(clicked)
    plain = next(f for f in para.fragments if f.link is None)
    scene.click(plain.x + 1, plain.y + style.line_h // 2)
    assert len(clicked) == n  # plain text does nothing
    scene.render()


def test_paragraph_link_that_wraps_has_a_rect_per_line(style: Style) -> None:
    runs = [Run("go "), Run("one two three four five six seven", True)]
    para = Paragraph.wrapped(style, 0, 0, 60, runs)
    rects = para.links["one two three four five six seven"]
    assert len(rects) >= 2
    assert len({r.y for r in rects}) == len(rects)


def make_slider(scene: Scene, style: Style, value: int = 3) -> Slider:
    slider = Slider.sized(style, 20, 50, 200, 0, 20, 2, ticks=True, value=value)
    scene.add(slider)
    assert slider.rect.inside(scene.bounds) and slider.thumb.inside(slider.rect)
    return slider


def test_slider_drag_snaps_and_clamps(scene: Scene, style: Style) -> None:
    slider = make_slider(scene, style, value=4)
    scene.drag(slider.thumb.center, (slider.x_of(10) + 3, 5))  # off the track vertically
    assert slider.value == 10
    scene.drag(slider.thumb.center, (slider.x_of(14) + 1, slider.track_y))
    assert slider.value == 14
    scene.drag(slider.thumb.center, (319, slider.track_y))
    assert slider.value == 20
    scene.drag(slider.thumb.center, (0, slider.track_y))
    assert slider.value == 0
    assert slider.thumb.inside(slider.rect)
    scene.render()


def test_slider_only_moves_from_the_thumb(scene: Scene, style: Style) -> None:
    slider = make_slider(scene, style, value=4)
    on_track = (slider.x_of(16), slider.track_y)
    scene.drag(on_track, (slider.x_of(8), slider.track_y))
    assert slider.value == 4
    scene.click(*on_track)
    assert slider.value == 4


def test_slider_every_value_is_reachable(scene: Scene, style: Style) -> None:
    slider = make_slider(scene, style)
    for v in range(slider.lo, slider.hi + 1, slider.step):
        scene.drag(slider.thumb.center, (slider.x_of(v), slider.track_y))
        assert slider.value == v


def test_listbox_scrolls_with_clamping(scene: Scene, style: Style) -> None:
    items = [f"item {i}" for i in range(12)]
    box = ListBox.sized(style, 10, 10, 150, items, rows=5)
    scene.add(box)
    scene.scroll(*box.rect.center, 0, 3)
    assert box.top == 3 and box.row_rect(2) is None and box.row_rect(3) is not None
    scene.scroll(*box.rect.center, 0, 50)
    assert box.top == 7 == box.max_top
    scene.scroll(*box.rect.center, 0, -2)
    assert box.top == 5
    scene.scroll(*box.rect.center, 0, -50)
    assert box.top == 0
    scene.render()


def test_listbox_click_maps_rows_to_items(scene: Scene, style: Style) -> None:
    picked: list[str] = []
    items = [f"item {i}" for i in range(12)]
    box = ListBox.sized(style, 10, 10, 150, items, rows=5, on_select=picked.append)
    scene.add(box)
    box.top = 4
    for i in box.shown:
        row = box.row_rect(i)
        assert row is not None and row.inside(box.rect)
        scene.click(*row.center)
        scene.click(row.x, row.y)
        scene.click(row.right - 1, row.bottom - 1)
        assert picked[-3:] == [items[i]] * 3
    n = len(picked)
    scene.click(box.rect.right - 2, box.rect.center[1])  # the scrollbar
    assert len(picked) == n


def test_shape_hit_runs_callback(scene: Scene, style: Style) -> None:
    presses: list[str] = []
    for i, kind in enumerate(SHAPE_KINDS):
        shape = Shape(Rect(5 + 44 * i, 100, 40, 40), kind=kind, color="red")
        shape.on_press = lambda k=kind: presses.append(k)
        scene.add(shape)
        assert all(shape.rect.contains(x, y) for x, y in shape.points)
        scene.click(*shape.rect.center)
        scene.click(shape.rect.x, shape.rect.y)  # a corner of the box counts too
    assert presses == [k for k in SHAPE_KINDS for _ in range(2)]
    scene.click(3, 100)  # beside every shape
    assert len(presses) == 2 * len(SHAPE_KINDS)
    assert scene.render()[120, 5 + 20].tolist() != list(style.background)
