"""What some tests need from the machine: skip without it here, fail without it under CI
(which installs everything, so a missing piece there is a broken set-up)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


def need(missing: str | None) -> None:
    """Go on when ``missing`` is None; otherwise skip (or, under CI, fail) saying why."""
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test: {missing}")
    pytest.skip(missing)


def chromium_missing() -> str | None:
    """Why MiniWoB++ and the browser tests cannot run here, or ``None``."""
    for module in ("miniwob", "selenium"):
        if importlib.util.find_spec(module) is None:
            return f'{module} is not installed: pip install -e ".[miniwob]"'
    paths = [os.environ.get(v) for v in ("MINIWOB_CHROME_BINARY", "MINIWOB_CHROMEDRIVER")]
    paths = paths if any(paths) else ["/usr/bin/chromium", "/usr/bin/chromedriver"]
    missing = [p for p in paths if not (p and Path(p).exists())]
    if missing:
        return f"no {' or '.join(missing)} (Debian: apt-get install chromium chromium-driver)"
    return None


def mujoco_missing() -> str | None:
    """Why the robot envs cannot render here (no mujoco, gymnasium-robotics or GL), or ``None``."""
    for module in ("mujoco", "gymnasium_robotics"):
        if importlib.util.find_spec(module) is None:
            return f'{module} is not installed: pip install -e ".[robot]"'
    from envs.errors import EnvError
    from envs.robot import gl

    try:
        gl.select_backend()
    except EnvError as err:
        return str(err)
    return None
