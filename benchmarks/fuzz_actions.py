"""Fuzz model output through parse -> guard -> executor and count what should never happen.

    .venv/bin/python benchmarks/fuzz_actions.py [--cases 100000] [--seed 0]

Each case is one model answer, drawn from eight families: random text (ASCII and any
Unicode), valid actions, valid actions cut short, oversized answers, Unicode confusables
(fullwidth digits and letters, Cyrillic look-alikes, zero-width and bidi marks), JSON
injection (duplicate keys, extra fields, nested objects, NaN/huge numbers), code injection
(``__import__``, attribute calls, lambdas) and forbidden actions in every spelling the parser
accepts (``hotkey("ctrl", "alt", "del")``, ``key("alt+f4")``, ``pyautogui.hotkey(...)``,
clicks in the forbidden box, denied text). It goes through :func:`actions.parse.parse_action`,
a :class:`~actions.guard.Guard` with the default rules plus a forbidden region, a deny_text
pattern and a denied key, and a :class:`~actions.desktop.RecordingExecutor` on a HiDPI
:class:`~actions.coords.ScreenFrame` at a monitor offset.

Outcomes: ``parsed-refused`` (ParseError), ``guard-refused`` (GuardDecision not allowed),
``executor-refused`` (ActionError: robot actions on a screen), ``executed``. Figures (goal 0):
``crashes``, any other exception; ``outside``, an executed point outside the frame;
``forbidden``, an executed action that an independent re-check of the rules denies.
Writes ``benchmarks/out/fuzz_actions.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import time
import traceback
import unicodedata
from collections import Counter
from collections.abc import Callable

from _common import print_table, write_json

from actions.coords import ScreenFrame
from actions.desktop import RecordingExecutor
from actions.errors import ActionError, ParseError
from actions.guard import DEFAULT_DENY_HOTKEYS, Guard, GuardConfig, action_points, combo
from actions.parse import MAX_CHARS, parse_action
from actions.schema import ActionBase, Hotkey, Key, TypeText

FRAME = ScreenFrame(width=1280, height=800, left=1920, top=-120, scale=2.0)
IMAGE = (FRAME.width, FRAME.height)
FORBIDDEN = (0.0, 0.9, 1.0, 1.0)  # a taskbar: the bottom tenth of the image
DENY_TEXT = r"(?i)hunter2|password"
DENY_KEY = "win"
RULES = GuardConfig(forbidden_regions=[FORBIDDEN], deny_text=[DENY_TEXT], deny_keys=[DENY_KEY])
DENIED = [combo(h) for h in DEFAULT_DENY_HOTKEYS]

NAMES = ("click", "double_click", "right_click", "move", "drag", "scroll", "type_text", "key",
         "hotkey", "wait", "done", "fail", "ee_delta", "point_target")  # fmt: skip
KEYS = ("enter", "tab", "escape", "ctrl", "alt", "shift", "win", "delete", "del", "f4", "l",
        "c", "v", "t", "backspace", "command", "q", "f2", "r", "f1", "super", "esc")  # fmt: skip
CONFUSABLES = {
    "c": "\u0441", "o": "\u043e", "a": "\u0430", "e": "\u0435", "p": "\u0440", "x": "\u0445",
    "l": "\u04cf", "(": "\uff08", ")": "\uff09", ",": "\uff0c", '"': "\u201c", "0": "\uff10",
    "1": "\uff11", "5": "\uff15", "+": "\uff0b", "_": "\uff3f", "k": "\u03ba", "i": "\u0456",
}  # fmt: skip
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u202d", "\u00ad")


# -- generators -----------------------------------------------------------------------------------
def _num(r: random.Random) -> str:
    return r.choice([str(r.randint(0, 1000)), str(r.randint(-50, 1100)),
                     f"{r.uniform(0, 1000):.3f}", "1e309", "-0", "1_000", "0x1F4", "True",
                     "None", "float('nan')",
                     str(10 ** r.randint(3, 400)), "500.0", "1000", "0"])  # fmt: skip


def _key(r: random.Random) -> str:
    return json.dumps(r.choice(KEYS))


def valid(r: random.Random) -> str:
    """One well-formed action in the SDK's call format (some of them forbidden)."""
    n = lambda: r.randint(0, 1000)  # noqa: E731
    name = r.choice(NAMES)
    if name in ("click", "double_click", "right_click", "move", "point_target"):
        return f"{name}({n()}, {n()})"
    if name == "drag":
        return f"drag({n()}, {n()}, {n()}, {n()})"
    if name == "scroll":
        return (
            f"scroll({n()}, {n()}, {r.choice(['down', 'up', 'left', 'right'])}={r.randint(0, 9)})"
        )
    if name == "type_text":
        return f"type_text({json.dumps(r.choice(['hello', 'password: hunter2', 'ok', '']))})"
    if name == "key":
        return f"key({_key(r)})"
    if name == "hotkey":
        return f"hotkey({', '.join(_key(r) for _ in range(r.randint(1, 4)))})"
    if name == "wait":
        return f"wait({r.uniform(0, 5):.1f})"
    if name == "ee_delta":
        return f"ee_delta({r.uniform(-1, 1):.2f}, 0, 0, {r.choice([-1, 1])})"
    return f"{name}()"


def random_text(r: random.Random) -> str:
    if r.random() < 0.5:
        return "".join(r.choice(string.printable) for _ in range(r.randint(0, 80)))
    return "".join(chr(r.randint(0, 0x10FFFF)) for _ in range(r.randint(0, 40)))


def truncated(r: random.Random) -> str:
    text = valid(r) if r.random() < 0.7 else injected_json(r)
    return text[: r.randint(0, max(0, len(text) - 1))]


def oversized(r: random.Random) -> str:
    kind = r.randrange(5)
    if kind == 0:
        return valid(r) * r.randint(2, MAX_CHARS // 8)
    if kind == 1:
        return f"type_text({json.dumps('A' * r.randint(1000, MAX_CHARS + 100))})"
    if kind == 2:
        depth = r.randint(50, 5000)
        return "click(" + "[" * depth + "1" + "]" * depth + ", 2)"
    if kind == 3:
        return " " * r.randint(0, MAX_CHARS) + valid(r)
    return "\n".join(valid(r) for _ in range(r.randint(2, 200)))


def confusable(r: random.Random) -> str:
    text = valid(r)
    out = []
    for ch in text:
        if ch in CONFUSABLES and r.random() < 0.3:
            out.append(CONFUSABLES[ch])
        elif r.random() < 0.05:
            out.append(ch + r.choice(INVISIBLE))
        else:
            out.append(ch)
    text = "".join(out)
    if r.random() < 0.2:
        text = unicodedata.normalize(r.choice(["NFC", "NFD", "NFKC", "NFKD"]), text)
    return text


def injected_json(r: random.Random) -> str:
    base = {"type": r.choice(NAMES), "x": r.random(), "y": r.random()}
    kind = r.randrange(7)
    if kind == 0:  # a second "type" later in the object (JSON keeps the last)
        extra = '"type": "hotkey", "keys": ["ctrl", "alt", "delete"]'
        return json.dumps(base)[:-1] + ", " + extra + "}"
    if kind == 1:
        return json.dumps({**base, "__class__": "os.system", "keys": ["alt", "f4"]})
    if kind == 2:
        return json.dumps(
            {"type": "type_text", "text": '"}, {"type": "hotkey", "keys": ["win", "l"]}'}
        )
    if kind == 3:
        return json.dumps({**base, "x": r.choice([float("nan"), float("inf"), 1e308, -1e-320])})
    if kind == 4:
        return json.dumps(
            {
                "type": "hotkey",
                "keys": r.sample(
                    ["ctrl", "alt", "delete", "shift", "f4", "l", "win"], r.randint(1, 4)
                ),
            }
        )
    if kind == 5:
        return "{" * r.randint(1, 3000) + "}" * r.randint(0, 3000)
    return json.dumps({"type": "drag", "x": r.random(), "y": r.random(), "to_x": r.random(),
                       "to_y": r.uniform(0.85, 1.2)})  # fmt: skip


def code(r: random.Random) -> str:
    return r.choice([
        '__import__("os").system("echo pwned")',
        "click(*[1, 2])",
        "click(x=(lambda: 1)(), y=2)",
        "os.system('reboot')",
        "pyautogui.hotkey('ctrl', 'alt', 'del')",
        "pyautogui.press('win')",
        f"click({_num(r)}, {_num(r)})",
        "exec('click(1, 2)')",
        "click(1, 2).__class__",
        "getattr(pyautogui, 'click')(1, 2)",
        'type_text(f"{open(\'/etc/passwd\').read()}")',
        "click(1, 2) if True else done()",
        "[click(1, 2), hotkey('alt', 'f4')]",
        "click(1, 2); hotkey('alt', 'f4')",
        "```python\nhotkey('ctrl', 'alt', 'delete')\n```",
        "Action: key('alt+f4')",
    ])  # fmt: skip


def forbidden(r: random.Random) -> str:
    combo_ = list(r.choice(DEFAULT_DENY_HOTKEYS).split("+"))
    r.shuffle(combo_)
    if r.random() < 0.3:
        combo_.append(r.choice(["shift", "ctrl", "a"]))
    spelled = [k.upper() if r.random() < 0.3 else {"delete": "del", "win": "super"}.get(k, k)
               for k in combo_]  # fmt: skip
    kind = r.randrange(6)
    if kind == 0:
        return f"hotkey({', '.join(json.dumps(k) for k in spelled)})"
    if kind == 1:
        return f'key("{"+".join(spelled)}")'
    if kind == 2:
        return f"pyautogui.hotkey({', '.join(repr(k) for k in spelled)})"
    if kind == 3:
        return f"click({r.randint(0, 1000)}, {r.randint(900, 1000)})"
    if kind == 4:
        return f'type_text("my {r.choice(["password", "PassWord", "hunter2"])} is 1234")'
    return f"key({json.dumps(DENY_KEY)})"


FAMILIES: dict[str, Callable[[random.Random], str]] = {
    "random": random_text, "valid": valid, "truncated": truncated, "oversized": oversized,
    "confusable": confusable, "json-injection": injected_json, "code-injection": code,
    "forbidden": forbidden,
}  # fmt: skip


# -- one case -------------------------------------------------------------------------------------
def denied_by_rules(action: ActionBase) -> str | None:
    """An independent re-check of what :data:`RULES` forbid (not the guard's own code)."""
    if isinstance(action, (Key, Hotkey)):
        keys = [action.key] if isinstance(action, Key) else list(action.keys)
        pressed = set(combo(keys))
        if DENY_KEY in pressed:
            return "denied key"
        if any(set(bad) <= pressed for bad in DENIED):
            return "denied hotkey"
    if isinstance(action, TypeText) and re.search(DENY_TEXT, action.text):
        return "denied text"
    x0, y0, x1, y1 = FORBIDDEN
    if any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in action_points(action)):
        return "forbidden region"
    return None


def run_case(text: str, guard: Guard, executor: RecordingExecutor) -> tuple[str, str | None]:
    """``(outcome, violation)`` for one model answer; raises on a crash."""
    guard.reset()
    try:
        action = parse_action(text, image_size=IMAGE)
    except ParseError:
        return "parse-refused", None
    decision = guard.check(action, FRAME)
    if not decision.executable:
        return "guard-refused", None
    before = len(executor.records)
    try:
        executor.execute(action, FRAME)
    except ActionError:
        return "executor-refused", None
    violation = denied_by_rules(action)
    for _, points in executor.records[before:]:
        if not all(FRAME.contains_screen(*p) for p in points):
            violation = violation or "outside the frame"
    del executor.records[:]
    return "executed", violation


def fuzz(cases: int, seed: int) -> dict[str, object]:
    r = random.Random(seed)
    ticks = iter(range(10**12))
    guard = Guard(RULES, clock=lambda: float(next(ticks)))  # one action per second: no rate limit
    executor = RecordingExecutor()
    outcomes: Counter[tuple[str, str]] = Counter()
    crashes: list[dict[str, str]] = []
    violations: list[dict[str, str]] = []
    names = list(FAMILIES)
    t0 = time.perf_counter()
    for i in range(cases):
        family = names[i % len(names)]
        text = FAMILIES[family](r)
        try:
            outcome, violation = run_case(text, guard, executor)
        except Exception as err:  # the figure this benchmark counts
            outcome, violation = "crash", None
            crashes.append({"family": family, "text": text[:300], "error": repr(err),
                            "trace": traceback.format_exc(limit=3)})  # fmt: skip
        if violation is not None:
            violations.append({"family": family, "text": text[:300], "why": violation})
        outcomes[family, outcome] += 1
    elapsed = time.perf_counter() - t0
    return {"cases": cases, "seed": seed, "elapsed_s": elapsed,
            "outcomes": {f"{f}/{o}": n for (f, o), n in sorted(outcomes.items())},
            "crashes": len(crashes), "violations": len(violations),
            "crash_examples": crashes[:10], "violation_examples": violations[:10]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = fuzz(args.cases, args.seed)
    kinds = ("parse-refused", "guard-refused", "executor-refused", "executed", "crash")
    rows = []
    for family in FAMILIES:
        counts = [result["outcomes"].get(f"{family}/{k}", 0) for k in kinds]  # type: ignore[union-attr]
        rows.append([family, sum(counts), *counts])
    total = [sum(row[i] for row in rows) for i in range(1, len(kinds) + 2)]
    rows.append(["all", *total])
    print_table(
        ["family", "cases", *kinds], rows, title="Fuzzed model output -> parse -> guard -> executor"
    )
    per_s = result["cases"] / result["elapsed_s"]  # type: ignore[operator]
    print(f"cases {result['cases']}  time {result['elapsed_s']:.1f} s ({per_s:,.0f}/s)  "
          f"crashes {result['crashes']} (goal 0)  forbidden or outside-frame actions executed "
          f"{result['violations']} (goal 0)")  # fmt: skip
    for example in result["crash_examples"] + result["violation_examples"]:  # type: ignore[operator]
        print(example)
    print(write_json("fuzz_actions", result))


if __name__ == "__main__":
    main()
