"""Basic widgets: text, panels, buttons, checkboxes and text fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from PIL import ImageFont

from envs.ui.canvas import Canvas, Rect, text_size
from envs.ui.scene import Scene, Widget
from envs.ui.style import Style

Callback = Callable[[], None]
FontKind = Literal["body", "bold", "small"]
ColorKind = Literal["text", "muted", "accent", "link"]


def font_of(style: Style, kind: FontKind) -> ImageFont.FreeTypeFont:
    return {"body": style.font, "bold": style.bold, "small": style.small}[kind]


@dataclass(eq=False)
class Label(Widget):
    """Static text (never takes input: clicks pass to what lies beneath)."""

    text: str = ""
    font: FontKind = "body"
    color: ColorKind = "text"

    @classmethod
    def at(cls, style: Style, x: int, y: int, text: str, font: FontKind = "body", **kw) -> Label:
        w, h = text_size(text, font_of(style, font))
        return cls(Rect(x, y, w, h), text=text, font=font, **kw)

    def hit(self, px: int, py: int) -> bool:
        return False

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        canvas.text(
            (self.rect.x, self.rect.y),
            self.text,
            font_of(style, self.font),
            getattr(style, self.color),
        )


@dataclass(eq=False)
class Panel(Widget):
    """A surface with a border and an optional title strip (a card, a window, a toolbar)."""

    title: str = ""

    def hit(self, px: int, py: int) -> bool:
        return False

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        canvas.box(self.rect, style.surface, style.border, style.radius)
        if self.title:
            h = style.control_h
            strip = Rect(self.rect.x + 1, self.rect.y + 1, self.rect.w - 2, h)
            canvas.box(strip, style.background, None)
            canvas.text(
                (strip.x + style.pad, strip.y + style.pad), self.title, style.bold, style.text
            )
            canvas.line(
                [(self.rect.x, strip.bottom), (self.rect.right - 1, strip.bottom)], style.border
            )


@dataclass(eq=False)
class Button(Widget):
    """A push button; ``on_press`` runs on click (and on Enter or Space while focused)."""

    label: str = ""
    primary: bool = True
    on_press: Callback | None = None
    pressed: int = 0  # how many times it was pressed

    @classmethod
    def sized(cls, style: Style, x: int, y: int, label: str, **kw) -> Button:
        w, _ = text_size(label, style.font)
        return cls(
            Rect(x, y, w + 4 * style.pad, style.control_h), label=label, focusable=True, **kw
        )

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        fill, ink = (
            (style.accent, style.accent_text) if self.primary else (style.surface, style.text)
        )
        canvas.box(self.rect, fill, style.focus if focused else style.border, style.radius)
        canvas.text_centered(self.rect, self.label, style.font, ink)

    def press(self) -> None:
        self.pressed += 1
        if self.on_press is not None:
            self.on_press()

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        self.press()

    def on_key(self, scene: Scene, key: str) -> None:
        if key in ("enter", "space"):
            self.press()


@dataclass(eq=False)
class Checkbox(Widget):
    """A box and its label; a click on either toggles it."""

    label: str = ""
    checked: bool = False
    on_change: Callback | None = None

    @classmethod
    def sized(cls, style: Style, x: int, y: int, label: str, **kw) -> Checkbox:
        w, h = text_size(label, style.font)
        return cls(Rect(x, y, h + style.pad + w, h), label=label, focusable=True, **kw)

    @property
    def box_rect(self) -> Rect:
        s = self.rect.h - 2
        return Rect(self.rect.x + 1, self.rect.y + 1, s, s)

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        box = self.box_rect
        canvas.box(
            box,
            style.accent if self.checked else style.surface,
            style.focus if focused else style.border,
            min(style.radius, 2),
        )
        if self.checked:
            s = box.w
            canvas.line(
                [
                    (box.x + s // 5, box.y + s // 2),
                    (box.x + s * 2 // 5, box.y + s * 3 // 4),
                    (box.x + s * 4 // 5, box.y + s // 4),
                ],
                style.accent_text,
                width=max(1, s // 7),
            )
        canvas.text((box.right + self.rect.h // 3, self.rect.y), self.label, style.font, style.text)

    def toggle(self) -> None:
        self.checked = not self.checked
        if self.on_change is not None:
            self.on_change()

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        self.toggle()

    def on_key(self, scene: Scene, key: str) -> None:
        if key == "space":
            self.toggle()


@dataclass(eq=False)
class TextField(Widget):
    """A one-line text input; Enter runs ``on_submit``; ctrl+a then typing replaces the text."""

    value: str = ""
    placeholder: str = ""
    max_len: int = 200
    on_submit: Callback | None = None
    all_selected: bool = False
    focusable: bool = field(default=True, kw_only=True)

    def on_text(self, scene: Scene, text: str) -> None:
        base = "" if self.all_selected else self.value
        self.value = (base + text)[: self.max_len]
        self.all_selected = False

    def on_key(self, scene: Scene, key: str) -> None:
        if key == "backspace":
            self.value = "" if self.all_selected else self.value[:-1]
        elif key == "delete" and self.all_selected:
            self.value = ""
        elif key == "enter" and self.on_submit is not None:
            self.on_submit()
        elif key == "space":
            self.on_text(scene, " ")
            return
        self.all_selected = False

    def on_hotkey(self, scene: Scene, keys: tuple[str, ...]) -> None:
        self.all_selected = keys in (("ctrl", "a"), ("command", "a"))

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        r = self.rect
        canvas.box(
            r,
            style.surface,
            style.focus if focused else style.border,
            min(style.radius, 3),
            width=2 if focused else 1,
        )
        inner_w = r.w - 2 * style.pad
        text = self.value
        while text and text_size(text, style.font)[0] > inner_w - 2:
            text = text[1:]  # show the tail, as a real field scrolls to the caret
        ty = r.y + (r.h - style.line_h) // 2
        if self.all_selected and text:
            canvas.box(
                Rect(r.x + style.pad, ty, text_size(text, style.font)[0], style.line_h),
                style.accent,
                None,
            )
            canvas.text((r.x + style.pad, ty), text, style.font, style.accent_text)
        elif text:
            canvas.text((r.x + style.pad, ty), text, style.font, style.text)
        elif self.placeholder and not focused:
            canvas.text((r.x + style.pad, ty), self.placeholder, style.font, style.muted)
        if focused:
            cx = r.x + style.pad + text_size(text, style.font)[0] + 1
            canvas.line([(cx, ty + 1), (cx, ty + style.line_h - 2)], style.text)
