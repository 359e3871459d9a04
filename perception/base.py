"""The backend-agnostic interface: ``load_vlm`` returns a :class:`VisionLanguageModel`.

Every call reports where its time went (:class:`Timings`): vision encode (tower + projector),
LLM prefill, time to first token, and decode speed, so agents and benchmarks see the cost of
each look at the screen.
"""

from __future__ import annotations

import importlib.util
import platform
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, overload, runtime_checkable

from perception.errors import BackendUnavailable, PerceptionError
from perception.preprocess import ImageLike

Backend = Literal["auto", "torch", "mlx"]


@dataclass(frozen=True)
class Timings:
    """Where one call's time went, in seconds (a batched call reports the batch's totals).

    ``ttft_s`` runs from the start of vision encoding to the first generated token, so it is
    ``vision_encode_s + prefill_s`` plus the small cost of splicing embeddings and sampling.
    ``decode_tokens_per_s`` counts the tokens after the first (which prefill produced), over
    all sequences of a batch.
    """

    preprocess_s: float  # image loading, padding, resizing (before the model runs)
    vision_encode_s: float  # vision tower + projector
    prefill_s: float  # LLM forward over image and prompt tokens, first token sampled
    ttft_s: float  # encode start -> first token
    decode_s: float  # the remaining tokens
    decode_tokens_per_s: float
    num_image_tokens: int  # per image
    num_prompt_tokens: int  # per sequence, image tokens included (longest of a batch)
    num_generated_tokens: int  # over all sequences

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class Generation:
    """One answer: its text, its token ids, why it stopped, and the call's timings."""

    text: str
    token_ids: list[int]
    finish_reason: Literal["stop", "length"]
    timings: Timings


@runtime_checkable
class VisionLanguageModel(Protocol):
    """What every backend offers. Images are RGB arrays, PIL images or paths."""

    backend: str
    name: str  # the checkpoint folder's name
    model_hash: str  # content hash of the weights (for episode records)
    device: str
    dtype: str
    image_size: int  # side of the square the vision tower sees
    num_image_tokens: int  # tokens per image

    @overload
    def generate(
        self,
        image: ImageLike,
        prompt: str,
        *,
        max_new_tokens: int = ...,
        temperature: float = ...,
        grammar: str | None = ...,
    ) -> Generation: ...
    @overload
    def generate(
        self,
        image: Sequence[ImageLike],
        prompt: Sequence[str],
        *,
        max_new_tokens: int = ...,
        temperature: float = ...,
        grammar: str | None = ...,
    ) -> list[Generation]: ...
    def generate(
        self,
        image: Any,
        prompt: Any,
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        grammar: str | None = None,
    ) -> Any:
        """Answer ``prompt`` about ``image``; lists of both make one batched call. With
        ``grammar`` (Lark text, llguidance's dialect) every answer is text of it."""
        ...

    def stream(
        self,
        image: ImageLike,
        prompt: str,
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text piece by piece; ``last_generation`` holds it afterwards."""
        ...


def _on_apple_silicon() -> bool:
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def _mlx_missing() -> str | None:
    """Why MLX cannot run here (naming the extra to install), or ``None``."""
    from perception.mlx_convert import mlx_missing

    return mlx_missing()


def select_backend(path: Path, backend: Backend = "auto") -> Literal["torch", "mlx"]:
    """The backend that will load ``path``.

    ``auto``: MLX on Apple silicon when mlx and mlx-vlm import, and for mlx-vlm folders
    wherever they import (MLX's CPU backend runs on Linux); PyTorch otherwise. An mlx folder
    without MLX is a :class:`BackendUnavailable` that says what to install.
    """
    from perception.checkpoints import CheckpointFormat, detect_format

    if backend not in ("auto", "torch", "mlx"):
        raise PerceptionError(f"unknown backend {backend!r}; use 'auto', 'torch' or 'mlx'")
    if backend != "auto":
        return backend
    if detect_format(path) is CheckpointFormat.MLX:
        missing = _mlx_missing()
        if missing:
            raise BackendUnavailable(
                f"{path} is an mlx-vlm folder, which only the MLX backend loads; {missing} "
                "(or load the original PyTorch download with backend='torch')"
            )
        return "mlx"
    if _on_apple_silicon() and _mlx_missing() is None:
        return "mlx"
    return "torch"


def load_vlm(
    path: str | Path,
    backend: Backend = "auto",
    device: str = "auto",
    dtype: str = "auto",
    **kwargs: Any,
) -> VisionLanguageModel:
    """Load a FastVLM checkpoint folder (Hugging Face ``fast_vlm``, Apple ``llava_qwen2``, or
    mlx-vlm) with the best backend and device present; nothing is downloaded.

    MLX loads every format (hf and apple folders are converted in memory); PyTorch loads hf
    and apple folders. ``device``: torch ``auto``/``cpu``/``cuda``/``mps``; MLX
    ``auto``/``gpu``/``cpu``.
    """
    chosen = select_backend(Path(path), backend)
    if chosen == "mlx":
        from perception.mlx_convert import require_mlx

        require_mlx()
        from perception.mlx_backend import MLXVLM

        return MLXVLM.from_pretrained(path, device=device, dtype=dtype, **kwargs)
    if (
        importlib.util.find_spec("torch") is None
        or importlib.util.find_spec("transformers") is None
    ):
        raise BackendUnavailable(
            "the PyTorch backend needs torch, timm and transformers: "
            'pip install "fastvlm-agent-sdk[torch]"'
        )
    from perception.torch_backend import TorchVLM

    return TorchVLM.from_pretrained(path, device=device, dtype=dtype, **kwargs)
