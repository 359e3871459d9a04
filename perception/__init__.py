"""FastVLM behind one backend-agnostic interface (PyTorch, MLX)."""

from perception.errors import BackendUnavailable, CheckpointError, PerceptionError

__all__ = ["BackendUnavailable", "CheckpointError", "PerceptionError"]
