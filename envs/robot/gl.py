"""Pick a headless OpenGL backend for MuJoCo before it is imported.

MuJoCo binds its GL backend (``MUJOCO_GL``) when ``mujoco`` is first imported, and PyOpenGL
binds its platform on its own first import, so a backend that fails cannot be swapped for
another inside one process. :func:`select_backend` therefore tries each candidate in a short
child process (about 0.5 s, once per process) and only then sets ``MUJOCO_GL``. A value the
user set is kept as it is.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from envs.errors import EnvError

log = logging.getLogger(__name__)

HEADLESS_BACKENDS = ("egl", "osmesa")
"""Tried in this order on Linux when ``MUJOCO_GL`` is unset."""
GL_HINT = (
    "install EGL (Debian: apt-get install libegl1 libegl-mesa0) or OSMesa (libosmesa6, then "
    "set MUJOCO_GL=osmesa); on a desktop with a display, MUJOCO_GL=glfw works too"
)
PROBE = "import mujoco; c = mujoco.GLContext(8, 8); c.make_current(); c.free()"
PROBE_TIMEOUT_S = 60.0


def probe(backend: str) -> str | None:
    """``None`` if MuJoCo can open a ``backend`` GL context here, else why not (one line)."""
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env["MUJOCO_GL"] = backend
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{type(err).__name__}: {err}"
    if proc.returncode == 0:
        return None
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def choose(
    candidates: tuple[str, ...] = HEADLESS_BACKENDS,
    try_backend: Callable[[str], str | None] = probe,
) -> str:
    """The first backend that works; EnvError naming each failure and the fix otherwise."""
    failures: list[str] = []
    for backend in candidates:
        why = try_backend(backend)
        if why is None:
            return backend
        log.info("MuJoCo GL backend %s does not work here: %s", backend, why)
        failures.append(f"{backend}: {why}")
    raise EnvError(
        f"no headless OpenGL backend works for MuJoCo ({'; '.join(failures)}); {GL_HINT}"
    )


@functools.cache
def select_backend() -> str:
    """Set ``MUJOCO_GL`` (if unset, on Linux) to a backend that works; returns the value used.

    Call before the first ``import mujoco``; once MuJoCo is imported its choice is final and is
    returned as it is.
    """
    current = os.environ.get("MUJOCO_GL", "")
    if current or not sys.platform.startswith("linux") or "mujoco" in sys.modules:
        return current
    backend = choose()
    os.environ["MUJOCO_GL"] = backend
    log.info("MuJoCo renders with MUJOCO_GL=%s", backend)
    return backend


def preload_triton() -> None:
    """Load triton's compiler library, where it is installed, before MuJoCo loads Mesa.

    Both carry LLVM. With Mesa's EGL or OSMesa (llvmpipe) loaded first, a later ``import
    triton`` (torch makes it when a model is loaded or compiled) kills the process with a
    segmentation fault; loaded in this order, both work. Without triton this does nothing."""
    if not sys.platform.startswith("linux") or importlib.util.find_spec("triton") is None:
        return
    try:
        importlib.import_module("triton._C.libtriton")
    except (ImportError, OSError) as err:  # a broken triton is torch's concern, not ours
        log.info("triton not preloaded (%s: %s)", type(err).__name__, err)


def import_mujoco() -> Any:
    """``mujoco`` with a working GL backend; EnvError naming the extra when it is missing."""
    missing = [m for m in ("mujoco", "gymnasium_robotics") if importlib.util.find_spec(m) is None]
    if missing:
        raise EnvError(
            f'{" and ".join(missing)} not installed: pip install "fastvlm-agent-sdk[robot]"'
        )
    select_backend()
    preload_triton()
    import mujoco

    return mujoco
