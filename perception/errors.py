"""Errors raised by the perception layer; each message says what was wrong and what to do."""

from __future__ import annotations


class PerceptionError(Exception):
    """Base class of every error the perception layer raises."""


class CheckpointError(PerceptionError):
    """A checkpoint folder that cannot be loaded: missing, malformed, or of an unknown format."""


class BackendUnavailable(PerceptionError):
    """A backend whose optional dependencies are not installed; names the extra to install."""
