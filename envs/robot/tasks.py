"""The robot tasks: which Fetch env each wraps, its instruction and its step budget.

Pure data (no MuJoCo import), so that ``import envs`` can register the ids cheaply.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from envs.errors import UnknownTaskError


@dataclass(frozen=True)
class RobotTask:
    """One Fetch task as the SDK runs it."""

    name: str
    fetch_class: str  # "module:Class" of the gymnasium-robotics v4 env
    instruction: str  # with the red target on the table (or anywhere, for reach)
    max_steps: int  # step budget; the oracle needs about a third of it
    instruction_in_air: str = ""  # pick-and-place goals above the table

    def describe(self, target_in_air: bool) -> str:
        """The instruction for a goal on the table or in the air."""
        return (
            self.instruction_in_air
            if target_in_air and self.instruction_in_air
            else (self.instruction)
        )


_FETCH = "gymnasium_robotics.envs.fetch"
TASKS: dict[str, RobotTask] = {
    task.name: task
    for task in (
        RobotTask(
            "reach", f"{_FETCH}.reach:MujocoFetchReachEnv",
            "move the gripper to the red target", max_steps=50,
        ),
        RobotTask(
            "push", f"{_FETCH}.push:MujocoFetchPushEnv",
            "push the black block onto the red target", max_steps=100,
        ),
        RobotTask(
            "pick-and-place", f"{_FETCH}.pick_and_place:MujocoFetchPickAndPlaceEnv",
            "pick up the black block and place it on the red target", max_steps=100,
            instruction_in_air="pick up the black block and lift it to the red target",
        ),
    )
}  # fmt: skip
"""Robot tasks by name."""
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def get_task(name: str) -> RobotTask:
    """The task called ``name``; an error that suggests the nearest names otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        near = difflib.get_close_matches(name, TASK_NAMES, n=3)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise UnknownTaskError(
            f"unknown robot task {name!r}; known: {', '.join(TASK_NAMES)}.{hint}"
        ) from None
