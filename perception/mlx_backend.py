"""FastVLM on MLX (Apple silicon; MLX's CPU backend elsewhere), with every call timed.

The model is mlx-vlm's (vision tower, projector, Qwen2 and its KV caches); the loop around it
is ours and the same as the PyTorch backend's: preprocess -> encode -> splice -> prefill ->
decode, each phase ended by ``mx.eval`` so its time is its own. Greedy answers and image
features match the PyTorch backend on the same checkpoint (tests/perception/test_mlx_parity.py).

Batches are left-padded and decoded together with mlx-vlm's ``BatchKVCache``. Sampling with a
seed is reproducible within MLX, but draws differ from the PyTorch backend's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
from mlx_vlm.models.cache import BatchKVCache, KVCache

from perception.base import Generation
from perception.checkpoints import LoadInfo, _folder, _read_config
from perception.errors import CheckpointError, PerceptionError
from perception.generation import Clock, DecodeLoop, Steps, stop_and_pad_ids
from perception.grammar import GrammarState
from perception.mlx_convert import load_fastvlm_mlx
from perception.preprocess import ImageLike
from perception.prompts import chat_prompt, split_on_image

log = logging.getLogger(__name__)


def pick_device(device: str = "auto") -> mx.Device:
    """``auto``: MLX's default (the GPU on Apple silicon); ``gpu`` (or ``mps``) or ``cpu``."""
    if device == "auto":
        return mx.default_device()
    if device == "cpu":
        return mx.cpu
    if device in ("gpu", "mps", "metal"):
        if not mx.is_available(mx.gpu):
            raise PerceptionError(f"device {device!r} asked for, but MLX has no GPU here")
        return mx.gpu
    raise PerceptionError(f"unknown MLX device {device!r}; use auto, gpu or cpu")


def load_tokenizer(path: str | Path) -> Any:
    """The tokenizer of a checkpoint folder (local files only; torch is not needed)."""
    from transformers import AutoTokenizer, Qwen2Config

    folder = _folder(path)
    # Apple's and mlx-vlm's config.json say llava_qwen2, unknown to transformers; the text is Qwen2
    extra = (
        {"config": Qwen2Config()} if _read_config(folder).get("model_type") != "fast_vlm" else {}
    )
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True, **extra)
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(
            f"cannot load the tokenizer in {folder} ({e}): copy tokenizer.json and "
            "tokenizer_config.json from the original download"
        ) from e


class MLXVLM(DecodeLoop):
    """A FastVLM checkpoint on MLX; see :class:`perception.base.VisionLanguageModel`."""

    backend = "mlx"

    def __init__(self, model: Any, tokenizer: Any, info: LoadInfo, device: mx.Device) -> None:
        self.model, self.tokenizer, self.info = model, tokenizer, info
        self.mx_device = device
        self.device = "gpu" if device == mx.gpu else "cpu"
        self.lm = model.language_model
        self.embed = self.lm.model.embed_tokens
        # the vision tower's dtype (a quantized model keeps its text weights as uint32)
        stem = model.vision_tower.vision_model.patch_embed.blocks[0].reparam_conv.weight
        self.mx_dtype = stem.dtype
        self.dtype = str(self.mx_dtype).removeprefix("mlx.core.")
        self.name, self.model_hash = Path(info.path).name, info.content_hash
        self.image_size, self.num_image_tokens = info.image_size, info.num_image_tokens
        self.stop_ids, self.pad_id = stop_and_pad_ids(tokenizer)
        self.vocab_size = int(self.lm.config.vocab_size)
        self.last_generation: Generation | None = None

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "auto", dtype: str = "auto") -> MLXVLM:
        """Load a local folder: mlx-vlm's, or an hf or apple one (converted in memory)."""
        dev = pick_device(device)
        start = time.perf_counter()
        model, _, info = load_fastvlm_mlx(path, dtype=dtype)
        log.info("loaded %s (%s) on MLX in %.1f s", path, info.format.value,
                 time.perf_counter() - start)  # fmt: skip
        return cls(model, load_tokenizer(path), info, dev)

    # -- the interface (generate and stream: perception.generation.DecodeLoop) ----------------
    def encode_images(self, pixels: mx.array) -> mx.array:
        """Image features ``B x num_image_tokens x hidden`` from ``B x 3 x S x S`` pixels."""
        _, grid, _ = self.model.vision_tower(pixels.transpose(0, 2, 3, 1).astype(self.mx_dtype))
        b, h, w, c = grid.shape
        return self.model.mm_projector(grid.reshape(b, h * w, c))

    # -- internals ------------------------------------------------------------------------------
    def _logits(self, hidden: mx.array) -> mx.array:
        """Next-token logits from the last position's hidden state (``B x vocab``)."""
        last = hidden[:, -1]
        if self.lm.config.tie_word_embeddings:
            return self.embed.as_linear(last)
        return self.lm.lm_head(last)

    def _decode(
        self,
        images: list[ImageLike],
        prompts: list[str],
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        grammar: GrammarState | None,
    ) -> Steps:
        clock, dev = Clock(), self.mx_device
        key = mx.random.key(seed) if seed is not None else None

        start = time.perf_counter()
        pixels = mx.array(self._pixels(images))
        texts = [split_on_image(chat_prompt(p)) for p in prompts]
        mx.eval(pixels)
        clock.preprocess_s = time.perf_counter() - start

        t0 = time.perf_counter()
        with mx.stream(dev):
            features = self.encode_images(pixels)
            mx.eval(features)
        clock.encode_s = time.perf_counter() - t0

        t1 = time.perf_counter()
        batch = len(prompts)
        with mx.stream(dev):
            embeds, pads = self._splice(texts, features)
            clock.prompt_tokens = embeds.shape[1]
            layers = len(self.lm.model.layers)
            cache = [BatchKVCache(pads) if batch > 1 else KVCache() for _ in range(layers)]
            hidden = self.lm.model(None, cache=cache, input_embeddings=embeds)
            next_tok, key = self._next(hidden, temperature, key, grammar)
        clock.prefill_s = time.perf_counter() - t1
        clock.ttft_s = time.perf_counter() - t0

        done = [False] * batch
        reasons = ["length"] * batch
        t2 = time.perf_counter()
        for step in range(max_new_tokens):
            tokens = next_tok.tolist()
            emitted: list[int | None] = []
            for i, tok in enumerate(tokens):
                if done[i]:
                    emitted.append(None)
                elif tok in self.stop_ids:  # the stop token itself is not part of the answer
                    done[i], reasons[i] = True, "stop"
                    emitted.append(None)
                else:
                    emitted.append(tok)
            yield emitted
            if all(done) or step == max_new_tokens - 1:
                break
            fed = mx.array([self.pad_id if d else t for d, t in zip(done, tokens, strict=True)])
            with mx.stream(dev):
                hidden = self.lm.model(None, cache=cache, input_embeddings=self.embed(fed[:, None]))
                next_tok, key = self._next(hidden, temperature, key, grammar)
        clock.decode_s = time.perf_counter() - t2
        return clock, reasons

    def _splice(
        self, texts: list[tuple[str, str]], features: mx.array
    ) -> tuple[mx.array, list[int]]:
        """Left-padded ``inputs_embeds`` (text, image features, text) and each row's padding."""
        rows = []
        for (before, after), i in zip(texts, range(features.shape[0]), strict=True):
            head, tail = self._tokens(before), self._tokens(after)
            text = self.embed(mx.array(head + tail))
            feats = features[i].astype(text.dtype)
            rows.append(mx.concatenate([text[: len(head)], feats, text[len(head) :]]))
        longest = max(r.shape[0] for r in rows)
        pads = [longest - r.shape[0] for r in rows]
        padded = [
            mx.concatenate([mx.zeros((pad, r.shape[1]), dtype=r.dtype), r]) if pad else r
            for r, pad in zip(rows, pads, strict=True)
        ]
        return mx.stack(padded), pads

    def _next(
        self,
        hidden: mx.array,
        temperature: float,
        key: mx.array | None,
        grammar: GrammarState | None,
    ) -> tuple[mx.array, mx.array | None]:
        """The next token per sequence, evaluated (within ``grammar``, if any)."""
        logits = self._logits(hidden)
        if grammar is not None:
            logits = mx.where(mx.array(grammar.allowed()), logits, -mx.inf)
        next_tok, key = self._sample(logits, temperature, key)
        mx.eval(next_tok)
        if grammar is not None:
            grammar.accept(next_tok.tolist())
        return next_tok, key

    @staticmethod
    def _sample(
        logits: mx.array, temperature: float, key: mx.array | None
    ) -> tuple[mx.array, mx.array | None]:
        if temperature == 0:
            return mx.argmax(logits, axis=-1), key
        sub = None
        if key is not None:
            key, sub = mx.random.split(key)
        scaled = logits.astype(mx.float32) / temperature
        return mx.random.categorical(scaled, axis=-1, key=sub), key


def image_features(vlm: MLXVLM, images: Sequence[ImageLike]) -> np.ndarray:
    """Projected image features as float32 numpy (for parity checks across backends)."""
    with mx.stream(vlm.mx_device):
        feats = vlm.encode_images(mx.array(vlm._pixels(list(images)))).astype(mx.float32)
        mx.eval(feats)
    return np.array(feats)
