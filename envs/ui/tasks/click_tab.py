"""click-tab: open the named tab and click a button on it."""

from __future__ import annotations

from actions.schema import ActionBase
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.scene import Widget
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button, Label, Panel
from envs.ui.widgets.tabs import TabBar
from envs.ui.words import BUTTON_LABELS, TAB_NAMES

MIN_TABS, MAX_TABS = 2, 5
MIN_BUTTONS, MAX_BUTTONS = 2, 4


class ClickTab(UITask):
    """A tab bar over a panel; each tab shows its own buttons (labels distinct across tabs). The
    episode ends when a button is clicked: success for the named one, which lives in a tab
    other than the first one shown 80% of the time. Switching tabs is free."""

    name = "click-tab"
    max_steps = 5  # the oracle needs at most 2 clicks: the tab, the button
    summary = "Open a tab and click a button on it."

    def build(self) -> None:
        s, area = self.style, self.area
        names = self.choice(TAB_NAMES, int(self.rng.integers(MIN_TABS, MAX_TABS + 1)))
        while len(names) > MIN_TABS and TabBar.width_of(s, names) > area.w:
            names.pop()
        if TabBar.width_of(s, names) > area.w:
            raise TaskGenerationError(f"{self.name}: {MIN_TABS} tabs do not fit {area.w} px")
        box = self._box(TabBar.width_of(s, names))
        panel = Rect(box.x, box.y + s.control_h - 1, box.w, box.h - s.control_h + 1)
        self.scene.add(Panel(panel))
        labels = self.choice(BUTTON_LABELS, len(names) * MAX_BUTTONS)
        self.pages = [
            self._page(name, labels[i * MAX_BUTTONS : (i + 1) * MAX_BUTTONS], panel)
            for i, name in enumerate(names)
        ]
        self.bar = TabBar.sized(s, box.x, box.y, box.w, names, on_change=self._show)
        self.bar.active = int(self.rng.integers(len(names)))
        self.scene.add(self.bar)
        self._show(self.bar.active)
        others = [i for i in range(len(names)) if i != self.bar.active]
        self.tab = self.bar.active if self.rng.random() < 0.2 else int(self.rng.choice(others))
        buttons = [w for w in self.pages[self.tab] if isinstance(w, Button)]
        self.target = buttons[int(self.rng.integers(len(buttons)))]
        for button in (w for page in self.pages for w in page if isinstance(w, Button)):
            button.on_press = self.succeed if button is self.target else self.fail
        self.distractors(int(self.rng.integers(0, 3)), [box])
        phrasing = (
            "Open the '{t}' tab and click '{b}'.",
            "Go to the {t} tab, then press {b}.",
            "Click the {b} button on the {t} tab.",
        )
        self.instruction = str(self.rng.choice(phrasing)).format(
            t=names[self.tab], b=self.target.label
        )

    def _box(self, min_w: int) -> Rect:
        """The tab bar and panel together: at least 60% of the window each way, placed at random."""
        area = self.area
        w = int(self.rng.integers(max(min_w, area.w * 3 // 5), area.w + 1))
        h = int(self.rng.integers(area.h * 3 // 5, area.h + 1))
        return Rect(
            int(self.rng.integers(area.x, area.right - w + 1)),
            int(self.rng.integers(area.y, area.bottom - h + 1)),
            w,
            h,
        )

    def _page(self, name: str, labels: list[str], panel: Rect) -> list[Widget]:
        """One tab's widgets in ``panel``: maybe a heading, and 2-4 buttons."""
        s = self.style
        inner, page = panel.inset(2 * s.pad), []
        heading = Label.at(s, inner.x, inner.y, f"{name} settings", font="bold")
        if heading.rect.w <= inner.w and self.rng.random() < 0.5:
            page.append(self.scene.add(heading))
            top = heading.rect.bottom + s.pad
            inner = Rect(inner.x, top, inner.w, inner.bottom - top)
        labels = labels[: int(self.rng.integers(MIN_BUTTONS, MAX_BUTTONS + 1))]
        sizes = [(text_size(lb, s.font)[0] + 4 * s.pad, s.control_h) for lb in labels]
        for label, rect in zip(labels, self.scatter(sizes, area=inner, gap=s.pad), strict=True):
            page.append(
                self.scene.add(
                    Button(rect, label=label, primary=bool(self.rng.random() < 0.5), focusable=True)
                )
            )
        return page

    def _show(self, tab: int) -> None:
        for i, page in enumerate(self.pages):
            for w in page:
                w.visible = i == tab

    def oracle(self) -> ActionBase:
        if self.bar.active != self.tab:
            return self.click(self.bar.tabs[self.tab])
        return self.click(self.target)
