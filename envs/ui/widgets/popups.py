"""Widgets that open above the rest: dropdowns, a menu bar with two levels of menus, dialogs.

Option lists and menus are scene popups (a click elsewhere closes them and is consumed);
a dialog is the scene's modal window (nothing else takes pointer input while it is shown).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import ImageFont

from envs.ui.canvas import RGB, Canvas, Rect, text_size
from envs.ui.scene import Scene, Widget
from envs.ui.style import Style
from envs.ui.widgets.basic import Button

Callback = Callable[[], None]


def row_height(style: Style) -> int:
    """Height of one row of an option list or menu."""
    return style.line_h + style.pad


def list_height(style: Style, rows: int) -> int:
    """Outer height of a popup of ``rows`` rows (one-pixel border above and below)."""
    return rows * row_height(style) + 2


def arrow(canvas: Canvas, r: Rect, color: RGB, down: bool) -> None:
    """A small solid triangle centred in ``r``, pointing down or right."""
    s = max(r.h // 5, 2)
    cx, cy = r.center
    if down:
        canvas.polygon([(cx - s, cy - s // 2), (cx + s, cy - s // 2), (cx, cy + s // 2 + 1)], color)
    else:
        canvas.polygon([(cx - s // 2, cy - s), (cx - s // 2, cy + s), (cx + s // 2 + 1, cy)], color)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to lines at most ``width`` pixels wide (long words overflow)."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_size(f"{lines[-1]} {word}", font)[0] <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _place_below(anchor: Rect, w: int, h: int, bounds: Rect) -> Rect:
    """A ``w`` x ``h`` box under ``anchor`` (above it when there is no room below), on screen."""
    x = max(min(anchor.x, bounds.right - w), bounds.x)
    y = anchor.bottom
    if y + h > bounds.bottom and anchor.y - h >= bounds.y:
        y = anchor.y - h
    return Rect(x, max(min(y, bounds.bottom - h), bounds.y), w, h)


# -- dropdown ------------------------------------------------------------------------------------
@dataclass(eq=False)
class OptionList(Widget):
    """The open list of a :class:`Dropdown`: a popup whose rows select an option."""

    owner: Dropdown

    def row_rect(self, i: int, style: Style) -> Rect:
        h = row_height(style)
        return Rect(self.rect.x + 1, self.rect.y + 1 + i * h, self.rect.w - 2, h)

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        canvas.box(self.rect, style.surface, style.border)
        for i, option in enumerate(self.owner.options):
            row = self.row_rect(i, style)
            ink = style.text
            if i == self.owner.selected:
                canvas.box(row, style.accent, None)
                ink = style.accent_text
            canvas.text((row.x + style.pad, row.y + style.pad // 2), option, style.font, ink)

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        i = (py - self.rect.y - 1) // row_height(scene.style)
        if 0 <= i < len(self.owner.options):
            scene.close_popups()
            self.owner.select(i)


@dataclass(eq=False)
class Dropdown(Widget):
    """A closed box showing the selection and a caret; a click opens its :class:`OptionList`.

    While focused, Enter or Space opens the list and Up/Down change the selection.
    """

    options: list[str] = field(default_factory=list)
    selected: int | None = None
    placeholder: str = "Select..."
    on_change: Callback | None = None
    focusable: bool = field(default=True, kw_only=True)
    popup: OptionList | None = field(default=None, init=False)

    @classmethod
    def sized(cls, style: Style, x: int, y: int, options: list[str], **kw) -> Dropdown:
        """A dropdown wide enough for its longest option (or placeholder) and the caret."""
        placeholder = kw.get("placeholder", cls.placeholder)
        w = max(text_size(t, style.font)[0] for t in [*options, placeholder])
        return cls(
            Rect(x, y, w + 3 * style.pad + style.line_h, style.control_h), options=options, **kw
        )

    @property
    def value(self) -> str | None:
        return None if self.selected is None else self.options[self.selected]

    def open_list(self, scene: Scene) -> OptionList | None:
        """The option list, while it is open."""
        return self.popup if self.popup is not None and self.popup in scene.popups else None

    def open(self, scene: Scene) -> None:
        if self.open_list(scene) is not None:
            return
        h = list_height(scene.style, len(self.options))
        self.popup = OptionList(_place_below(self.rect, self.rect.w, h, scene.bounds), owner=self)
        scene.open_popup(self.popup)

    def select(self, i: int) -> None:
        if i != self.selected:
            self.selected = i
            if self.on_change is not None:
                self.on_change()

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        self.open(scene)

    def on_key(self, scene: Scene, key: str) -> None:
        if key in ("enter", "space"):
            self.open(scene)
        elif key in ("up", "down") and self.options:
            step = 1 if key == "down" else -1
            start = -1 if self.selected is None else self.selected
            self.select(min(max(start + step, 0), len(self.options) - 1))

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        r = self.rect
        outline = style.focus if focused else style.border
        canvas.box(r, style.surface, outline, min(style.radius, 3), width=2 if focused else 1)
        ty = r.y + (r.h - style.line_h) // 2
        if self.value is None:
            canvas.text((r.x + style.pad, ty), self.placeholder, style.font, style.muted)
        else:
            canvas.text((r.x + style.pad, ty), self.value, style.font, style.text)
        caret = Rect(r.right - style.line_h - style.pad, r.y, style.line_h, r.h)
        canvas.line([(caret.x, r.y + 3), (caret.x, r.bottom - 4)], style.border)
        arrow(canvas, caret.moved(style.pad // 2, 0), style.text, down=True)


# -- menus ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class MenuItem:
    """A menu entry: a leaf that runs ``action``, or (with ``items``) a submenu."""

    label: str
    items: list[MenuItem] = field(default_factory=list)
    action: Callback | None = None
    shortcut: str = ""


@dataclass(eq=False)
class MenuPopup(Widget):
    """An open menu (``level`` 0 under the bar, 1 for a submenu). A click on a submenu row opens
    it beside this menu; a click on a leaf closes every menu, then runs the leaf's action."""

    items: list[MenuItem] = field(default_factory=list)
    level: int = 0
    title: Rect | None = None  # the bar title that opened a level-0 menu (drawn highlighted)
    label: str = ""  # that title's text
    expanded: int | None = None  # the row whose submenu is open

    @staticmethod
    def size(style: Style, items: list[MenuItem]) -> tuple[int, int]:
        label_w = max(text_size(it.label, style.font)[0] for it in items)
        extra = [
            text_size(it.shortcut, style.small)[0] + style.line_h for it in items if it.shortcut
        ]
        extra += [style.line_h for it in items if it.items]
        return label_w + max(extra, default=0) + 3 * style.pad + 2, list_height(style, len(items))

    def row_rect(self, i: int, style: Style) -> Rect:
        h = row_height(style)
        return Rect(self.rect.x + 1, self.rect.y + 1 + i * h, self.rect.w - 2, h)

    def open_submenu(self, scene: Scene, i: int) -> None:
        """Open row ``i``'s submenu to the right of this menu (left when there is no room)."""
        style = scene.style
        row, (w, h) = self.row_rect(i, style), self.size(style, self.items[i].items)
        x = self.rect.right - 1
        if x + w > scene.width:
            x = self.rect.x - w + 1 if self.rect.x - w + 1 >= 0 else scene.width - w
        y = max(min(row.y - 1, scene.height - h), 0)
        scene.close_popups(keep=self.level + 1)
        self.expanded = i
        scene.open_popup(
            MenuPopup(Rect(x, y, w, h), items=self.items[i].items, level=self.level + 1)
        )

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        i = (py - self.rect.y - 1) // row_height(scene.style)
        if not 0 <= i < len(self.items):
            return
        item = self.items[i]
        if item.items:
            self.open_submenu(scene, i)
            return
        scene.close_popups()
        if item.action is not None:
            item.action()

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        if self.title is not None:
            canvas.box(self.title, style.accent, None, min(style.radius, 3))
            canvas.text_centered(self.title, self.label, style.font, style.accent_text)
        canvas.box(self.rect, style.surface, style.border)
        for i, item in enumerate(self.items):
            row, ink = self.row_rect(i, style), style.text
            if i == self.expanded:
                canvas.box(row, style.accent, None)
                ink = style.accent_text
            canvas.text((row.x + style.pad, row.y + style.pad // 2), item.label, style.font, ink)
            if item.items:
                arrow(
                    canvas,
                    Rect(row.right - style.line_h, row.y, style.line_h, row.h),
                    ink,
                    down=False,
                )
            elif item.shortcut:
                w, h = text_size(item.shortcut, style.small)
                pos = (row.right - style.pad - w, row.y + (row.h - h) // 2)
                canvas.text(pos, item.shortcut, style.small, style.muted)


@dataclass(eq=False)
class MenuBar(Widget):
    """A strip of menu titles; a click on a title opens its menu below it."""

    menus: list[MenuItem] = field(default_factory=list)
    titles: list[Rect] = field(default_factory=list)

    @classmethod
    def sized(cls, style: Style, x: int, y: int, width: int, menus: list[MenuItem]) -> MenuBar:
        """A bar ``width`` wide with the titles laid out from the left."""
        h, titles, tx = style.control_h, [], x + style.pad
        for menu in menus:
            w = text_size(menu.label, style.font)[0] + 2 * style.pad + 2
            titles.append(Rect(tx, y + 1, w, h - 2))
            tx += w
        return cls(Rect(x, y, width, h), menus=menus, titles=titles)

    @staticmethod
    def width_of(style: Style, labels: list[str]) -> int:
        """The width the titles ``labels`` need."""
        return sum(text_size(t, style.font)[0] + 2 * style.pad + 2 for t in labels) + 2 * style.pad

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        for menu, title in zip(self.menus, self.titles, strict=True):
            if title.contains(px, py):
                w, h = MenuPopup.size(scene.style, menu.items)
                rect = _place_below(
                    Rect(title.x, self.rect.bottom - 1, title.w, 0), w, h, scene.bounds
                )
                scene.open_popup(MenuPopup(rect, items=menu.items, title=title, label=menu.label))

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        r = self.rect
        canvas.box(r, style.surface, None)
        canvas.line([(r.x, r.bottom - 1), (r.right - 1, r.bottom - 1)], style.border)
        for menu, title in zip(self.menus, self.titles, strict=True):
            canvas.text_centered(title, menu.label, style.font, style.text)


# -- dialog --------------------------------------------------------------------------------------
@dataclass(eq=False)
class Dialog(Widget):
    """A modal window: a title bar with a close box, a wrapped message and a row of buttons.

    Any button, the close box or Escape dismisses it, then runs that control's callback
    (``Button.on_press``, or ``on_close`` for the close box and Escape); Enter presses the
    first (default) button.
    """

    title: str = ""
    lines: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    on_close: Callback | None = None

    @staticmethod
    def button_width(style: Style, label: str) -> int:
        return text_size(label, style.font)[0] + 3 * style.pad

    @classmethod
    def min_width(cls, style: Style, labels: list[str]) -> int:
        """The narrowest dialog whose button row holds ``labels``."""
        return sum(cls.button_width(style, t) + style.pad for t in labels) + 3 * style.pad

    @staticmethod
    def height(style: Style, width: int, message: str) -> int:
        """The height of a ``width``-wide dialog showing ``message``."""
        lines = wrap(message, style.font, width - 4 * style.pad)
        return 2 * style.control_h + len(lines) * style.line_h + 6 * style.pad + 1

    @classmethod
    def sized(cls, style: Style, rect: Rect, title: str, message: str, labels: list[str]) -> Dialog:
        """A dialog in ``rect`` (``height`` tall), buttons right-aligned, the first the default."""
        widths = [cls.button_width(style, label) for label in labels]
        x = rect.right - 2 * style.pad - sum(widths) - (len(labels) - 1) * style.pad
        y, buttons = rect.bottom - style.control_h - 2 * style.pad, []
        for i, (label, w) in enumerate(zip(labels, widths, strict=True)):
            buttons.append(Button(Rect(x, y, w, style.control_h), label=label, primary=i == 0))
            x += w + style.pad
        lines = wrap(message, style.font, rect.w - 4 * style.pad)
        return cls(rect, title=title, lines=lines, buttons=buttons)

    def show(self, scene: Scene) -> None:
        scene.modal, scene.backdrop = self, True
        scene.invalidate()

    def dismiss(self, scene: Scene) -> None:
        if scene.modal is self:
            scene.modal, scene.backdrop = None, False
            scene.invalidate()

    def title_bar(self, style: Style) -> Rect:
        return Rect(self.rect.x + 1, self.rect.y + 1, self.rect.w - 2, style.control_h)

    def close_box(self, style: Style) -> Rect:
        """The "x" button at the right end of the title bar."""
        s = style.control_h - 4
        return Rect(self.rect.right - s - 3, self.rect.y + 3, s, s)

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        if self.close_box(scene.style).contains(px, py):
            self.dismiss(scene)
            if self.on_close is not None:
                self.on_close()
            return
        for button in self.buttons:
            if button.rect.contains(px, py):
                self.dismiss(scene)
                button.press()
                return

    def on_key(self, scene: Scene, key: str) -> None:
        if key == "escape":
            self.on_click(scene, *self.close_box(scene.style).center)
        elif key == "enter" and self.buttons:
            self.on_click(scene, *self.buttons[0].rect.center)

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        r, bar, x = self.rect, self.title_bar(style), self.close_box(style)
        canvas.shade(r.moved(3, 3), (0, 0, 0), 0.4)  # drop shadow
        canvas.box(r, style.surface, style.border, style.radius)
        canvas.box(bar, style.background, None, max(style.radius - 1, 0))
        canvas.box(
            Rect(bar.x, bar.y + bar.h // 2, bar.w, bar.h - bar.h // 2), style.background, None
        )
        canvas.line([(r.x, bar.bottom), (r.right - 1, bar.bottom)], style.border)
        ty = bar.y + (bar.h - style.line_h) // 2
        canvas.text((bar.x + 2 * style.pad - 1, ty), self.title, style.bold, style.text)
        d = max(x.w // 4, 2)
        ink, lw = style.text, max(style.font_px // 8, 1)
        canvas.line([(x.x + d, x.y + d), (x.right - 1 - d, x.bottom - 1 - d)], ink, width=lw)
        canvas.line([(x.x + d, x.bottom - 1 - d), (x.right - 1 - d, x.y + d)], ink, width=lw)
        ty = bar.bottom + 2 * style.pad
        for line in self.lines:
            canvas.text((r.x + 2 * style.pad, ty), line, style.font, style.text)
            ty += style.line_h
        for button in self.buttons:
            button.draw(canvas, style, False)
