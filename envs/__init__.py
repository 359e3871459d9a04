"""Gymnasium environments that score agents: the built-in GUI suite, MiniWoB++ and Fetch robots.

Importing this package registers every environment, so ``gym.make("agent_sdk/ui-click-button-v0")``
works after ``import envs``; ``gym.make("envs:agent_sdk/ui-click-button-v0")`` imports it for you.
MiniWoB++ ids (``agent_sdk/miniwob-click-button-v0``) are registered by string entry point, so
selenium and miniwob load only when such an env is made (``pip install ".[miniwob]"``); the
robot ids (``agent_sdk/robot-push-v0``) likewise load MuJoCo only when made (``.[robot]``).
"""

from __future__ import annotations

import gymnasium as gym

from envs.errors import EnvCrashed, EnvError, TaskGenerationError, UnknownTaskError
from envs.miniwob.tasks import TASKS as MINIWOB_TASKS
from envs.robot.tasks import TASKS as ROBOT_TASKS
from envs.ui.tasks import TASK_NAMES, get_task

NAMESPACE = "agent_sdk"
UI_SUITE: tuple[str, ...] = tuple(f"{NAMESPACE}/ui-{name}-v0" for name in TASK_NAMES)
"""Env ids of the GUI suite, one per task."""
MINIWOB_SUITE: tuple[str, ...] = tuple(f"{NAMESPACE}/miniwob-{name}-v0" for name in MINIWOB_TASKS)
"""Env ids of the supported MiniWoB++ tasks (they need Chromium and the ``miniwob`` extra)."""
ROBOT_SUITE: tuple[str, ...] = tuple(f"{NAMESPACE}/robot-{name}-v0" for name in ROBOT_TASKS)
"""Env ids of the Fetch tabletop tasks (they need MuJoCo and the ``robot`` extra)."""
SUITES: dict[str, tuple[str, ...]] = {
    "ui": UI_SUITE,
    "miniwob": MINIWOB_SUITE,
    "robot": ROBOT_SUITE,
}
"""Named suites of env ids."""


def register_envs() -> None:
    """Register every environment of the SDK with Gymnasium (idempotent)."""
    for name, env_id in zip(TASK_NAMES, UI_SUITE, strict=True):
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="envs.ui.env:UIEnv",
                kwargs={"task": name},
                max_episode_steps=get_task(name).max_steps,
            )
    for task, env_id in zip(MINIWOB_TASKS.values(), MINIWOB_SUITE, strict=True):
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="envs.miniwob.env:MiniWoBEnv",
                kwargs={"task": task.name},
                max_episode_steps=task.max_steps,
            )
    for task, env_id in zip(ROBOT_TASKS.values(), ROBOT_SUITE, strict=True):
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="envs.robot.env:RobotEnv",
                kwargs={"task": task.name},
                max_episode_steps=task.max_steps,
            )


register_envs()

__all__ = [
    "MINIWOB_SUITE",
    "NAMESPACE",
    "ROBOT_SUITE",
    "SUITES",
    "UI_SUITE",
    "EnvCrashed",
    "EnvError",
    "TaskGenerationError",
    "UnknownTaskError",
    "register_envs",
]
