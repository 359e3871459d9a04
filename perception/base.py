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
        self, image: ImageLike, prompt: str, *, max_new_tokens: int = ..., temperature: float = ...
    ) -> Generation: ...
    @overload
    def generate(
        self,
        image: Sequence[ImageLike],
        prompt: Sequence[str],
        *,
        max_new_tokens: int = ...,
        temperature: float = ...,
    ) -> list[Generation]: ...
    def generate(
        self, image: Any, prompt: Any, *, max_new_tokens: int = 64, temperature: float = 0.0
    ) -> Any:
        """Answer ``prompt`` about ``image``; lists of both make one batched call."""
        ...

    def stream(
        self, image: ImageLike, prompt: str, *, max_new_tokens: int = 64, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield the answer's text piece by piece; ``last_generation`` holds it afterwards."""
        ...


def _on_apple_silicon() -> bool:
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def select_backend(path: Path, backend: Backend = "auto") -> Literal["torch", "mlx"]:
    """The backend that will load ``path``: MLX for MLX folders, or on Apple silicon when
    ``mlx`` is importable; PyTorch otherwise."""
    from perception.checkpoints import CheckpointFormat, detect_format

    if backend not in ("auto", "torch", "mlx"):
        raise PerceptionError(f"unknown backend {backend!r}; use 'auto', 'torch' or 'mlx'")
    if backend != "auto":
        return backend
    if detect_format(path) is CheckpointFormat.MLX:
        return "mlx"
    if _on_apple_silicon() and importlib.util.find_spec("mlx") is not None:
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
    mlx-vlm) with the best backend and device present; nothing is downloaded."""
    chosen = select_backend(Path(path), backend)
    if chosen == "mlx":
        raise BackendUnavailable(
            f"{path} needs the MLX backend, which this version of fastvlm-agent-sdk does not "
            "ship yet; convert the folder to the Hugging Face layout and use backend='torch'"
        )
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
