"""Key names shared by the schema, the parser, the guard and the executors.

Names follow pyautogui's (lower case); :func:`normalize_key` maps common aliases onto them.
"""

from __future__ import annotations

import string

NAMED_KEYS: frozenset[str] = frozenset(
    {
        "enter", "tab", "escape", "backspace", "delete", "insert", "space",
        "up", "down", "left", "right", "home", "end", "pageup", "pagedown",
        "ctrl", "alt", "shift", "win", "command", "option", "fn", "capslock",
        "printscreen", "pause", "numlock", "scrolllock", "menu",
        "volumeup", "volumedown", "volumemute",
        *(f"f{i}" for i in range(1, 25)),
    }
)  # fmt: skip
"""Keys with a name, besides single printable characters."""

MODIFIERS: frozenset[str] = frozenset({"ctrl", "alt", "shift", "win", "command", "option", "fn"})

ALIASES: dict[str, str] = {
    "return": "enter", "esc": "escape", "del": "delete", "control": "ctrl", "cmd": "command",
    "super": "win", "meta": "win", "windows": "win", "opt": "option", "pgup": "pageup",
    "pgdn": "pagedown", "page_up": "pageup", "page_down": "pagedown", "arrowup": "up",
    "arrowdown": "down", "arrowleft": "left", "arrowright": "right", "spacebar": "space",
    "back": "backspace", "ins": "insert", "prtsc": "printscreen", "caps_lock": "capslock",
}  # fmt: skip

_PRINTABLE_KEYS = frozenset(c for c in string.printable if not c.isspace() or c == " ")


def normalize_key(name: str) -> str:
    """Canonical name of a key, or ``ValueError`` naming the key and the accepted names."""
    if len(name) == 1 and name in _PRINTABLE_KEYS:
        return "space" if name == " " else name.lower() if name.isalpha() else name
    canon = name.strip().lower()
    canon = ALIASES.get(canon, canon)
    if canon in NAMED_KEYS:
        return canon
    if len(canon) == 1 and canon in _PRINTABLE_KEYS:
        return canon
    raise ValueError(
        f"unknown key {name!r}; use a single printable character or one of "
        f"{', '.join(sorted(NAMED_KEYS - {f'f{i}' for i in range(2, 25)}))} (f1-f24 too)"
    )
