"""Fetch tabletop tasks (gymnasium-robotics + MuJoCo) with a fixed camera, depth and intrinsics.

Importing this package is cheap: MuJoCo and gymnasium-robotics load when the first env is made
(``pip install "fastvlm-agent-sdk[robot]"``). See :class:`envs.robot.env.RobotEnv`.
"""

from __future__ import annotations

from envs.robot.tasks import TASK_NAMES, TASKS, RobotTask, get_task

__all__ = ["TASKS", "TASK_NAMES", "RobotTask", "get_task"]
