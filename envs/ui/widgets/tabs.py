"""A row of tabs: the active one is raised and open into the panel below it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from envs.ui.canvas import Canvas, Rect, text_size
from envs.ui.scene import Scene, Widget
from envs.ui.style import Style


@dataclass(eq=False)
class TabBar(Widget):
    """Tabs laid out from the left of ``rect``; a click on an inactive tab makes it active and
    calls ``on_change(index)`` (the owner shows that tab's widgets and hides the others').

    Put the tab panel's top edge on the bar's last row and add the panel first: the active tab
    then opens into it.
    """

    labels: list[str] = field(default_factory=list)
    tabs: list[Rect] = field(default_factory=list)
    active: int = 0
    on_change: Callable[[int], None] | None = None

    @staticmethod
    def tab_width(style: Style, label: str) -> int:
        return text_size(label, style.bold)[0] + 4 * style.pad  # the active tab's label is bold

    @classmethod
    def width_of(cls, style: Style, labels: list[str]) -> int:
        """The width the tabs ``labels`` need (neighbours share their one-pixel border)."""
        return sum(cls.tab_width(style, t) - 1 for t in labels) + 2 * style.pad + 1

    @classmethod
    def sized(cls, style: Style, x: int, y: int, width: int, labels: list[str], **kw) -> TabBar:
        """A bar ``width`` wide whose tabs start one padding in from ``x``."""
        tabs, tx = [], x + style.pad
        for label in labels:
            w = cls.tab_width(style, label)
            tabs.append(Rect(tx, y, w, style.control_h))
            tx += w - 1
        return cls(Rect(x, y, width, style.control_h), labels=labels, tabs=tabs, **kw)

    def select(self, i: int) -> None:
        if i != self.active:
            self.active = i
            if self.on_change is not None:
                self.on_change(i)

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        for i, tab in enumerate(self.tabs):
            if tab.contains(px, py):
                self.select(i)
                return

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        r, rad = self.rect, min(style.radius, 4)
        for i, (label, tab) in enumerate(zip(self.labels, self.tabs, strict=True)):
            if i != self.active:
                t = Rect(tab.x, tab.y + 2, tab.w, tab.h - 2)
                canvas.box(t, style.background, style.border, rad)
                canvas.text_centered(t, label, style.font, style.muted)
        canvas.line([(r.x, r.bottom - 1), (r.right - 1, r.bottom - 1)], style.border)
        t = self.tabs[self.active]
        canvas.box(t, style.surface, style.border, rad)
        canvas.box(Rect(t.x + 1, t.bottom - rad - 1, t.w - 2, rad + 1), style.surface, None)
        canvas.line([(t.x, t.y + rad), (t.x, t.bottom - 1)], style.border)
        canvas.line([(t.right - 1, t.y + rad), (t.right - 1, t.bottom - 1)], style.border)
        canvas.text_centered(t, self.labels[self.active], style.bold, style.text)
