"""Scripted Fetch experts that read the true state (for tests, demonstrations and baselines).

Each expert is a function of the current :class:`FetchState` only (no memory), so it can take
over mid-episode. Fetch moves its mocap target by ``0.05 m`` per unit of action per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actions.schema import EEDelta

METRES_PER_UNIT = 0.05
"""Fetch's scale: an ``ee_delta`` component of 1 moves the gripper target 5 cm in one step."""
GAIN = 0.6
"""Fraction of the remaining distance commanded per step (the arm lags its target)."""
HOVER = 0.06  # metres above the block's centre while the gripper travels
OPEN_WIDTH = 0.08  # finger opening (m) that clears the 5 cm block
HELD_WIDTH = (0.03, 0.065)  # finger opening (m) of a closed grip around the block
HELD_OFFSET = 0.03  # the block centre may lie this far (m) from the grip site across the table
PUSH_BACKOFF = 0.055  # metres behind the block's centre where a push starts
PUSH_SPEED = 0.5  # cap on the push command (2.5 cm per step) so the block stays in front


@dataclass(frozen=True)
class FetchState:
    """What the experts read: world positions in metres and the finger opening."""

    grip: np.ndarray  # (3,) the grip site between the fingertips
    width: float  # finger opening, left + right joint positions
    goal: np.ndarray  # (3,) the red target
    block: np.ndarray | None = None  # (3,) the block's centre (None for reach)


def _move(delta: np.ndarray, gripper: float = 0.0, limit: float = 1.0) -> EEDelta:
    """An ee_delta that covers ``GAIN`` of a world displacement, each component in the limit."""
    cmd = np.clip(GAIN * np.asarray(delta) / METRES_PER_UNIT, -limit, limit)
    return EEDelta(dx=float(cmd[0]), dy=float(cmd[1]), dz=float(cmd[2]), gripper=gripper)


def reach(state: FetchState) -> EEDelta:
    """Straight to the target."""
    return _move(state.goal - state.grip)


def holding(state: FetchState) -> bool:
    """Whether the fingers are closed around the block."""
    assert state.block is not None
    rel = state.block - state.grip
    xy_off = float(np.linalg.norm(rel[:2]))
    return (
        HELD_WIDTH[0] <= state.width <= HELD_WIDTH[1]
        and xy_off < HELD_OFFSET
        and abs(rel[2]) < 0.025
    )


def pick_and_place(state: FetchState) -> EEDelta:
    """Hover over the block, open, descend, close, then carry the block to the target."""
    assert state.block is not None
    block, grip = state.block, state.grip
    rel = block - grip
    xy_off = float(np.linalg.norm(rel[:2]))
    if holding(state):
        return _move(state.goal - block, gripper=-1.0)
    if xy_off < 0.01 and abs(rel[2]) < 0.008 and state.width > HELD_WIDTH[1]:
        return _move(rel, gripper=-1.0)  # around the block: close
    ready = xy_off < 0.015 and state.width > OPEN_WIDTH
    target = block if ready else block + np.array([0.0, 0.0, HOVER])
    return _move(target - grip, gripper=1.0)


def push(state: FetchState) -> EEDelta:
    """Go behind the block on the target's line, lower, and push it along that line."""
    assert state.block is not None
    block, grip, goal = state.block, state.grip, state.goal
    line = goal[:2] - block[:2]
    remaining = float(np.linalg.norm(line))
    if remaining < 1e-6:
        return EEDelta()
    u = line / remaining
    rel = grip[:2] - block[:2]
    along = float(rel @ u)
    lateral = rel - along * u
    behind = -along > 0.035 and float(np.linalg.norm(lateral)) < 0.012
    low = abs(grip[2] - block[2]) < 0.015
    if behind and low:
        delta_xy = line - lateral  # carry the block the remaining way; stay on the line
        return _move(np.array([*delta_xy, block[2] - grip[2]]), limit=PUSH_SPEED)
    start = block[:2] - PUSH_BACKOFF * u
    near_start = float(np.linalg.norm(grip[:2] - start)) < 0.012
    z = block[2] if near_start else block[2] + HOVER
    if not near_start and grip[2] < block[2] + HOVER - 0.02 and float(np.linalg.norm(rel)) < 0.08:
        return _move(np.array([0.0, 0.0, block[2] + HOVER - grip[2]]))  # clear the block first
    return _move(np.array([*(start - grip[:2]), z - grip[2]]))


EXPERTS = {"reach": reach, "push": push, "pick-and-place": pick_and_place}
"""Expert by task name."""
