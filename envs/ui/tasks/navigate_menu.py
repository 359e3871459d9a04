"""navigate-menu: choose an item from a menu bar, through a submenu or directly."""

from __future__ import annotations

from actions.schema import ActionBase, Key
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect
from envs.ui.task import UITask
from envs.ui.widgets.basic import Panel
from envs.ui.widgets.popups import MenuBar, MenuItem, MenuPopup, list_height, row_height
from envs.ui.words import MENUS, SUBMENUS

MIN_MENUS, MAX_MENUS = 3, 5
MIN_ITEMS, MAX_ITEMS = 3, 7


class NavigateMenu(UITask):
    """A menu bar of 3-5 menus of 3-7 items, some opening submenus of 2-5 items. The episode
    ends when a leaf item is clicked: success for the one the instruction's path names."""

    name = "navigate-menu"
    max_steps = 6  # the oracle needs at most 3 clicks: menu, submenu, item
    summary = "Choose an item from a menu bar, through its submenu if it has one."

    def build(self) -> None:
        s, area = self.style, self.area
        picked = set(self.choice(list(MENUS), int(self.rng.integers(MIN_MENUS, MAX_MENUS + 1))))
        names = [m for m in MENUS if m in picked]  # in the usual menu-bar order
        while MenuBar.width_of(s, names) > area.w:
            names.pop(int(self.rng.integers(len(names))))
        if len(names) < MIN_MENUS:
            raise TaskGenerationError(
                f"{self.name}: {MIN_MENUS} menu titles do not fit {area.w} px"
            )
        rows = (self.height - area.y - s.control_h - list_height(s, 0)) // row_height(s)
        if rows < MIN_ITEMS:
            raise TaskGenerationError(f"{self.name}: no room for a menu of {MIN_ITEMS} items")
        menus = [MenuItem(m, items=self._items(m, min(rows, MAX_ITEMS))) for m in names]
        self.bar = MenuBar.sized(s, area.x, area.y, area.w, menus)
        page = Rect(
            area.x, self.bar.rect.bottom + s.pad, area.w, area.bottom - self.bar.rect.bottom - s.pad
        )
        self.scene.add(Panel(page))
        self.scene.add(self.bar)
        self.distractors(int(self.rng.integers(1, 5)), [self.bar.rect])
        self.path = self._target(menus)
        self.path[-1].action = self.succeed
        phrasing = ("Choose {}.", "Select {} from the menu bar.", "Use the menus to click {}.")
        self.instruction = str(self.rng.choice(phrasing)).format(
            " > ".join(i.label for i in self.path)
        )

    def _items(self, menu: str, most: int) -> list[MenuItem]:
        """A menu's items: leaves that fail the task, and up to two submenus of leaves."""
        n = int(self.rng.integers(MIN_ITEMS, most + 1))
        subs = self.choice(
            list(SUBMENUS[menu]), min(int(self.rng.integers(0, 3)), len(SUBMENUS[menu]))
        )
        leaves = self.choice(MENUS[menu], min(n - len(subs), len(MENUS[menu])))
        items = [MenuItem(label, action=self.fail) for label in leaves]
        if self.rng.random() < 0.5:
            self._add_shortcuts(items)
        for label in subs:
            pool = SUBMENUS[menu][label]
            leaves = self.choice(pool, int(self.rng.integers(2, len(pool) + 1)))
            sub = MenuItem(label, items=[MenuItem(leaf, action=self.fail) for leaf in leaves])
            items.insert(int(self.rng.integers(len(items) + 1)), sub)
        return items

    @staticmethod
    def _add_shortcuts(items: list[MenuItem]) -> None:
        """Ctrl+letter hints on leaves, each letter used once (the first free one of the label)."""
        used: set[str] = set()
        for item in items:
            letter = next((c for c in item.label.upper() if c.isalpha() and c not in used), "")
            if letter:
                used.add(letter)
                item.shortcut = f"Ctrl+{letter}"

    def _target(self, menus: list[MenuItem]) -> list[MenuItem]:
        """The path to the leaf to choose, through a submenu 60% of the time when there is one."""
        menu = menus[int(self.rng.integers(len(menus)))]
        subs = [i for i in menu.items if i.items]
        if subs and self.rng.random() < 0.6:
            sub = subs[int(self.rng.integers(len(subs)))]
            return [menu, sub, sub.items[int(self.rng.integers(len(sub.items)))]]
        leaves = [i for i in menu.items if not i.items]
        return [menu, leaves[int(self.rng.integers(len(leaves)))]]

    def oracle(self) -> ActionBase:
        popups = [p for p in self.scene.popups if isinstance(p, MenuPopup)]
        depth = 0  # how many open menus lie on the path
        while (
            depth < min(len(popups), len(self.path) - 1)
            and popups[depth].items is self.path[depth].items
        ):
            depth += 1
        if depth == 0:  # closed (or a wrong menu, which this click closes): open the menu
            return self.click(self.bar.titles[self.bar.menus.index(self.path[0])])
        popup = popups[depth - 1]
        row = popup.row_rect(popup.items.index(self.path[depth]), self.style)
        if self.scene.widget_at(*row.center) is not popup:  # hidden under a wrong submenu
            return Key(key="escape")
        return self.click(row)
