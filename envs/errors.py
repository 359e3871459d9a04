"""Errors raised by the environments; each message says what was wrong and what to do."""

from __future__ import annotations


class EnvError(Exception):
    """Base class of every error the envs layer raises."""


class UnknownTaskError(EnvError, KeyError):
    """A task or env id that is not registered; the message suggests the nearest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class TaskGenerationError(EnvError):
    """A task could not lay out its scene at the requested screen size."""


class EnvCrashed(EnvError):
    """An environment's backend (browser, simulator) died; rebuild the env to go on."""
