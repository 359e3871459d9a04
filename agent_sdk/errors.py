"""The agent's errors, plus every layer's, so ``except agent_sdk.errors.X`` covers the SDK."""

from __future__ import annotations

from actions.errors import (
    ActionError,
    CoordinateError,
    DesktopUnavailable,
    GuardRejected,
    ParseError,
)
from envs.errors import EnvCrashed, EnvError, TaskGenerationError, UnknownTaskError
from perception.errors import BackendUnavailable, CheckpointError, PerceptionError


class AgentError(Exception):
    """Base class of the agent layer's own errors."""


class ConfigError(AgentError, ValueError):
    """A configuration value that is out of range; names the field and the bad value."""


SDK_ERRORS: tuple[type[Exception], ...] = (AgentError, ActionError, EnvError, PerceptionError)
"""Every SDK error base; the CLI turns these into a message and a non-zero exit code."""

__all__ = [
    "SDK_ERRORS",
    "ActionError",
    "AgentError",
    "BackendUnavailable",
    "CheckpointError",
    "ConfigError",
    "CoordinateError",
    "DesktopUnavailable",
    "EnvCrashed",
    "EnvError",
    "GuardRejected",
    "ParseError",
    "PerceptionError",
    "TaskGenerationError",
    "UnknownTaskError",
]
