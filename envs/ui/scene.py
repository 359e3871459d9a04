"""A tiny retained-mode widget toolkit: widgets in z-order, popups, a modal, keyboard focus.

Input arrives in image pixels; the scene routes it to the topmost widget under the point (or to
the focused widget for keys) and redraws only when something may have changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from envs.ui.canvas import Canvas, Rect

if TYPE_CHECKING:
    from envs.ui.style import Style


@dataclass(eq=False)
class Widget:
    """A box on screen that draws itself and may react to input. Handlers do nothing by default."""

    rect: Rect
    visible: bool = field(default=True, kw_only=True)
    focusable: bool = field(default=False, kw_only=True)

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        raise NotImplementedError

    def hit(self, px: int, py: int) -> bool:
        return self.visible and self.rect.contains(px, py)

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        """A left click at ``(px, py)`` inside the widget."""

    def on_drag(self, scene: Scene, start: tuple[int, int], end: tuple[int, int]) -> None:
        """A press at ``start`` inside the widget, released at ``end`` (anywhere)."""

    def on_scroll(self, scene: Scene, px: int, py: int, dx: int, dy: int) -> None:
        """Wheel clicks over the widget; positive ``dy`` scrolls down."""

    def on_text(self, scene: Scene, text: str) -> None:
        """Typed characters, while focused."""

    def on_key(self, scene: Scene, key: str) -> None:
        """A key press (pyautogui name), while focused."""

    def on_hotkey(self, scene: Scene, keys: tuple[str, ...]) -> None:
        """A key combination, while focused."""


class Scene:
    """Widgets of one screen, the input routing between them, and the rendered frame."""

    def __init__(self, width: int, height: int, style: Style) -> None:
        self.width, self.height, self.style = width, height, style
        self.widgets: list[Widget] = []
        self.popups: list[Widget] = []  # transient, topmost last; a click elsewhere closes them
        self.modal: Widget | None = None  # when set, only it (and popups) get pointer input
        self.focus: Widget | None = None
        self.backdrop: bool = False  # dim everything under the modal
        self._frame: np.ndarray | None = None

    @property
    def bounds(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    def add(self, widget: Widget) -> Widget:
        """Add a widget on top of those already there; returns it."""
        self.widgets.append(widget)
        self.invalidate()
        return widget

    def invalidate(self) -> None:
        """Mark the frame stale; the next :meth:`render` draws anew."""
        self._frame = None

    def open_popup(self, popup: Widget) -> None:
        self.popups.append(popup)
        self.invalidate()

    def close_popups(self, keep: int = 0) -> None:
        """Close popups above the first ``keep`` ones."""
        if len(self.popups) > keep:
            del self.popups[keep:]
            self.invalidate()

    def set_focus(self, widget: Widget | None) -> None:
        if widget is not self.focus:
            self.focus = widget
            self.invalidate()

    def widget_at(self, px: int, py: int) -> Widget | None:
        """The topmost visible widget under a pixel that may take pointer input."""
        for popup in reversed(self.popups):
            if popup.hit(px, py):
                return popup
        if self.modal is not None:
            return self.modal if self.modal.hit(px, py) else None
        for widget in reversed(self.widgets):
            if widget.hit(px, py):
                return widget
        return None

    # -- input ---------------------------------------------------------------------------------
    def click(self, px: int, py: int) -> Widget | None:
        """Route a click; returns the widget that took it, if any."""
        target = self.widget_at(px, py)
        if self.popups and (target is None or target not in self.popups):
            self.close_popups()
            return None  # the click only dismissed the popups, as in most toolkits
        if target is None:
            self.set_focus(None)
            return None
        if target not in self.popups:
            self.set_focus(target if target.focusable else None)
        target.on_click(self, px, py)
        self.invalidate()
        return target

    def drag(self, start: tuple[int, int], end: tuple[int, int]) -> Widget | None:
        target = self.widget_at(*start)
        if target is not None:
            target.on_drag(self, start, end)
            self.invalidate()
        return target

    def scroll(self, px: int, py: int, dx: int, dy: int) -> Widget | None:
        target = self.widget_at(px, py)
        if target is not None:
            target.on_scroll(self, px, py, dx, dy)
            self.invalidate()
        return target

    def type_text(self, text: str) -> Widget | None:
        if self.focus is not None and self.focus.visible:
            self.focus.on_text(self, text)
            self.invalidate()
            return self.focus
        return None

    def key(self, key: str) -> Widget | None:
        if key == "escape" and self.popups:
            self.close_popups()
            return None
        if key == "tab":
            self._focus_next()
            return self.focus
        if self.focus is not None and self.focus.visible:
            self.focus.on_key(self, key)
            self.invalidate()
            return self.focus
        if self.modal is not None:
            self.modal.on_key(self, key)
            self.invalidate()
            return self.modal
        return None

    def hotkey(self, keys: tuple[str, ...]) -> Widget | None:
        if self.focus is not None and self.focus.visible:
            self.focus.on_hotkey(self, keys)
            self.invalidate()
            return self.focus
        return None

    def _focus_next(self) -> None:
        order = [w for w in self.widgets if w.focusable and w.visible]
        if self.modal is not None:
            order = [self.modal] if self.modal.focusable else []
        if not order:
            return
        i = order.index(self.focus) + 1 if self.focus in order else 0
        self.set_focus(order[i % len(order)])

    # -- output --------------------------------------------------------------------------------
    def render(self) -> np.ndarray:
        """The current frame, H x W x 3 uint8 (a fresh array; redrawn only when stale)."""
        if self._frame is None:
            canvas = Canvas(self.width, self.height, self.style.background)
            for widget in self.widgets:
                if widget.visible:
                    widget.draw(canvas, self.style, widget is self.focus)
            if self.modal is not None:
                if self.backdrop:
                    canvas.shade(self.bounds, (0, 0, 0), 0.35)
                self.modal.draw(canvas, self.style, self.modal is self.focus)
            for popup in self.popups:
                popup.draw(canvas, self.style, False)
            self._frame = np.asarray(canvas.image)
        return self._frame.copy()
