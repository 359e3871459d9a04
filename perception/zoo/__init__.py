"""Models shipped inside the package: small FastVLMs trained by `agent-sdk train` on the SDK's
own environments, in the Hugging Face ``fast_vlm`` layout, so `perception.load_vlm` loads them
exactly as it loads Apple's. Each folder holds a model card (``README.md``) and its run record
(``run.json``: config, data manifest, loss curve, evaluations)."""

from __future__ import annotations

from pathlib import Path

from perception.errors import CheckpointError

ZOO_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "fastvlm-agent-small"
"""The model `agent-sdk run/eval/demo` use when no ``--model`` is given."""


def zoo_models() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.name for p in ZOO_DIR.iterdir() if (p / "config.json").is_file())


def zoo_model(name: str = DEFAULT_MODEL) -> Path:
    """The folder of a shipped model, ready for `perception.load_vlm`."""
    path = ZOO_DIR / name
    if not (path / "config.json").is_file():
        known = ", ".join(zoo_models()) or "none"
        raise CheckpointError(
            f"no shipped model named {name!r} in {ZOO_DIR} (shipped: {known}); pass a "
            "checkpoint folder with --model, or reinstall fastvlm-agent-sdk"
        )
    return path


def model_or_default(model: str | Path | None) -> Path:
    """``model`` as a path, or the default shipped model when it is ``None``."""
    return zoo_model() if model is None else Path(model)
