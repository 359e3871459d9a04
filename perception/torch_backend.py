"""FastVLM on PyTorch: transformers' ``FastVlmForConditionalGeneration`` (vision tower = timm's
``fastvit_mci3``, re-parameterised), on CUDA, MPS or the CPU, with every call timed.

The generation loop is written out (encode -> splice -> prefill -> decode with a KV cache) so
that each phase is timed on its own; CUDA and MPS are synchronised at each boundary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from perception.base import Generation
from perception.checkpoints import LoadInfo, load_fastvlm_torch, load_tokenizer
from perception.errors import PerceptionError
from perception.generation import Clock, DecodeLoop, Steps, stop_and_pad_ids
from perception.grammar import GrammarState
from perception.preprocess import ImageLike
from perception.prompts import chat_prompt, split_on_image

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}  # fmt: skip


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA if present, else MPS, else the CPU; an absent device is an error."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PerceptionError(f"device {device!r} asked for, but CUDA is not available here")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise PerceptionError(f"device {device!r} asked for, but MPS is not available here")
    return dev


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on CUDA when supported (else fp16), fp16 on MPS, fp32 on the CPU."""
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if device.type == "mps" else torch.float32
    if dtype not in DTYPES:
        raise PerceptionError(f"unknown dtype {dtype!r}; use auto, {', '.join(DTYPES)}")
    chosen = DTYPES[dtype]
    if device.type == "cpu" and chosen is torch.float16:
        raise PerceptionError("float16 is slow and inexact on the CPU; use float32 or bfloat16")
    return chosen


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class TorchVLM(DecodeLoop):
    """A FastVLM checkpoint on PyTorch; see :class:`perception.base.VisionLanguageModel`."""

    backend = "torch"

    def __init__(
        self,
        model: Any,
        tokenizer: PreTrainedTokenizerBase,
        info: LoadInfo,
        device: torch.device,
    ) -> None:
        self.model, self.tokenizer, self.info = model, tokenizer, info
        self.torch_device = device
        self.torch_dtype = next(model.parameters()).dtype
        self.device, self.dtype = str(device), str(self.torch_dtype).removeprefix("torch.")
        self.name, self.model_hash = Path(info.path).name, info.content_hash
        self.image_size = info.image_size
        reduction = model.model.vision_tower.timm_model.feature_info[-1]["reduction"]
        self.num_image_tokens = (self.image_size // reduction) ** 2
        self.vocab_size = model.lm_head.out_features
        stops, self.pad_id = stop_and_pad_ids(tokenizer)
        self.stop_ids = torch.tensor(stops, device=device)
        self.last_generation: Generation | None = None

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str = "auto", dtype: str = "auto", allow_pickle: bool = False
    ) -> TorchVLM:
        """Load a local checkpoint folder (any layout :mod:`perception.checkpoints` knows)."""
        dev = pick_device(device)
        model, info = load_fastvlm_torch(
            path, dtype=pick_dtype(dtype, dev), device=dev, allow_pickle=allow_pickle
        )
        if hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation("sdpa")
        return cls(model, load_tokenizer(path), info, dev)

    # -- the interface (generate and stream: perception.generation.DecodeLoop) ----------------
    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Image features ``B x num_image_tokens x hidden`` (vision tower + projector)."""
        return self.model.model.get_image_features(pixel_values=pixel_values).pooler_output

    # -- internals ------------------------------------------------------------------------------
    @torch.inference_mode()
    def _decode(
        self,
        images: list[ImageLike],
        prompts: list[str],
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        grammar: GrammarState | None,
    ) -> Steps:
        dev, clock = self.torch_device, Clock()
        gen = torch.Generator(device="cpu").manual_seed(seed) if seed is not None else None

        start = time.perf_counter()
        pixels = torch.from_numpy(self._pixels(images)).to(dev, self.torch_dtype)
        texts = [split_on_image(chat_prompt(p)) for p in prompts]
        _sync(dev)
        clock.preprocess_s = time.perf_counter() - start

        t0 = time.perf_counter()
        features = self.encode_images(pixels)
        _sync(dev)
        clock.encode_s = time.perf_counter() - t0

        t1 = time.perf_counter()
        embeds, mask = self._splice(texts, features)
        clock.prompt_tokens = embeds.shape[1]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        # no padding (one prompt, or prompts of one length): no mask to build at every step,
        # plain causal attention instead (the same result, less work per decode step)
        padded = not bool(mask.all())
        lm = self.model.model.language_model
        out = lm(inputs_embeds=embeds, attention_mask=mask if padded else None,
                 position_ids=positions, use_cache=True)  # fmt: skip
        next_tok = self._next(out, temperature, gen, grammar)
        _sync(dev)
        clock.prefill_s = time.perf_counter() - t1
        clock.ttft_s = time.perf_counter() - t0

        batch = len(prompts)
        done = torch.zeros(batch, dtype=torch.bool, device=dev)
        reasons = ["length"] * batch
        cache, last_pos = out.cache, positions[:, -1:]
        t2 = time.perf_counter()
        for step in range(max_new_tokens):
            stopped = torch.isin(next_tok, self.stop_ids) & ~done
            emitted = [
                None if d else int(t) for d, t in zip(done.tolist(), next_tok.tolist(), strict=True)
            ]
            for i in torch.nonzero(stopped).flatten().tolist():
                reasons[i], emitted[i] = (
                    "stop",
                    None,
                )  # the stop token itself is not part of the answer
            done |= stopped
            yield emitted
            if bool(done.all()) or step == max_new_tokens - 1:
                break
            last_pos = last_pos + 1
            if padded:
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            fed = torch.where(done, torch.full_like(next_tok, self.pad_id), next_tok)
            out = lm(
                inputs_embeds=self.model.get_input_embeddings()(fed[:, None]),
                attention_mask=mask if padded else None,
                position_ids=last_pos,
                cache=cache,
                use_cache=True,
            )
            cache = out.cache
            next_tok = self._next(out, temperature, gen, grammar)
        _sync(dev)
        clock.decode_s = time.perf_counter() - t2
        return clock, reasons

    def _splice(
        self, texts: list[tuple[str, str]], features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded ``inputs_embeds`` (text, image features, text) and the attention mask."""
        embed = self.model.get_input_embeddings()
        rows = []
        for (before, after), feats in zip(texts, features, strict=True):
            head, tail = self._tokens(before), self._tokens(after)
            text = embed(torch.tensor(head + tail, device=self.torch_device))
            rows.append(torch.cat([text[: len(head)], feats.to(text.dtype), text[len(head) :]]))
        longest = max(r.shape[0] for r in rows)
        embeds = rows[0].new_zeros(len(rows), longest, rows[0].shape[-1])
        mask = torch.zeros(len(rows), longest, dtype=torch.long, device=self.torch_device)
        for i, r in enumerate(rows):
            embeds[i, longest - r.shape[0] :] = r
            mask[i, longest - r.shape[0] :] = 1
        return embeds, mask

    def _next(
        self,
        out: Any,
        temperature: float,
        gen: torch.Generator | None,
        grammar: GrammarState | None,
    ) -> torch.Tensor:
        """The next token per sequence from the LLM's output (within ``grammar``, if any)."""
        logits = self.model.lm_head(out.last_hidden_state[:, -1])
        if grammar is None:
            return self._sample(logits, temperature, gen)
        allowed = torch.from_numpy(grammar.allowed()).to(logits.device)
        tokens = self._sample(logits.masked_fill(~allowed, float("-inf")), temperature, gen)
        grammar.accept(tokens.tolist())
        return tokens

    @staticmethod
    def _sample(
        logits: torch.Tensor, temperature: float, gen: torch.Generator | None
    ) -> torch.Tensor:
        if temperature == 0:
            return logits.argmax(-1)
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        return torch.multinomial(probs.cpu(), 1, generator=gen).flatten().to(logits.device)


def image_features(vlm: TorchVLM, images: Sequence[ImageLike]) -> np.ndarray:
    """Projected image features as float32 numpy (for parity checks across backends)."""
    with torch.inference_mode():
        pixels = torch.from_numpy(vlm._pixels(list(images)))
        feats = vlm.encode_images(pixels.to(vlm.torch_device, vlm.torch_dtype))
    return feats.float().cpu().numpy()
