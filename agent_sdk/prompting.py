"""Every prompt the agent sends, built in one place (training builds its targets from the same
functions). Prompts are short, for tiny and 0.5B models, and deterministic: the same inputs give
the same text.
"""

from __future__ import annotations

from collections.abc import Sequence

ACTION_FORMAT = (
    "Coordinates are integers 0-1000 of the screenshot (x from the left, y from the top). "
    "Actions: click(x, y), double_click(x, y), right_click(x, y), drag(x1, y1, x2, y2), "
    'scroll(x, y, down=3), type_text("..."), key("enter"), hotkey("ctrl", "a"), done(), '
    'fail("reason").'
)
"""The action syntax every step prompt states."""

HISTORY_LEN = 4
"""How many previous actions a prompt shows."""


def step_prompt(instruction: str, history: Sequence[str] = (), error: str | None = None) -> str:
    """The question a VLM answers with one action.

    ``history`` holds previous actions in SDK text, oldest first (the last :data:`HISTORY_LEN`
    are shown); ``error`` turns the prompt into a re-ask that names what was wrong.
    """
    lines = [f"Task: {instruction}", f"Previous actions: {_history(history)}", ACTION_FORMAT]
    if error is not None:
        lines.append(f"Your last answer was not a valid action: {error}")
    lines.append("Answer with exactly one action.")
    return "\n".join(lines)


ROBOT_FORMAT = (
    "Coordinates are integers 0-1000 of the camera image (x from the left, y from the top). "
    "Actions: point_target(x, y) moves the gripper to that point; point_target(x, y, "
    'gripper="close") picks up what is there; point_target(x, y, gripper="open") puts down '
    "what is held there; drag(x1, y1, x2, y2) pushes what is at the first point along the "
    "table to the second; ee_delta(dx, dy, dz, gripper) nudges the gripper; done(); "
    'fail("reason"). Several point_target actions, one per line, run in order.'
)
"""The action syntax every robot step prompt states."""


def robot_prompt(instruction: str, history: Sequence[str] = (), error: str | None = None) -> str:
    """The question a VLM answers with motor actions for a robot's camera image (same layout as
    :func:`step_prompt`)."""
    lines = [f"Task: {instruction}", f"Previous actions: {_history(history)}", ROBOT_FORMAT]
    if error is not None:
        lines.append(f"Your last answer was not a valid action: {error}")
    lines.append("Answer with one action, or a few point_target lines.")
    return "\n".join(lines)


def point_prompt(target: str, error: str | None = None) -> str:
    """The question that grounds a sub-goal to one point of the screenshot."""
    prompt = f"Point to: {target}. Answer with click(x, y), coordinates 0-1000 of the screenshot."
    if error is not None:
        prompt += f"\nYour last answer was not a point: {error}"
    return prompt


PLANNER_SYSTEM = (
    "You operate a computer for a user, one step at a time, without seeing the screen. "
    "Reply with the next step only: a short sub-goal naming what to click "
    '(e.g. "click the Submit button"), or one keyboard action: type_text("..."), key("enter"), '
    'hotkey("ctrl", "a"), done() when the task is complete, or fail("reason").'
)


def planner_messages(instruction: str, history: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Chat messages (role, text) asking a text planner for the next sub-goal."""
    user = f"Task: {instruction}\nSteps so far: {_history(history)}\nNext step?"
    return [("system", PLANNER_SYSTEM), ("human", user)]


def _history(history: Sequence[str]) -> str:
    shown = list(history)[-HISTORY_LEN:]
    return "; ".join(shown) if shown else "none"
