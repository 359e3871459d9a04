"""The generation bookkeeping both backends share, free of torch and mlx.

A backend subclasses :class:`DecodeLoop` and writes ``_decode``: a generator that yields each
step's new token per sequence (``None`` once a sequence has stopped) and returns the call's
:class:`Clock` and each sequence's finish reason. ``generate`` and ``stream`` are built on it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from perception.base import Generation, Timings
from perception.errors import PerceptionError
from perception.grammar import GrammarConstraint, GrammarState
from perception.preprocess import ImageLike, preprocess
from perception.prompts import STOP_STRINGS

Steps = Generator[list[int | None], None, tuple["Clock", list[str]]]


@dataclass
class Clock:
    """Phase times of one call, filled in as it runs."""

    preprocess_s: float = 0.0
    encode_s: float = 0.0
    prefill_s: float = 0.0
    ttft_s: float = 0.0
    decode_s: float = 0.0
    prompt_tokens: int = 0


def stop_and_pad_ids(tokenizer: Any) -> tuple[list[int], int]:
    """The token ids that end an answer (chat stop strings and EOS), and the id fed as padding
    once a sequence of a batch has stopped (the tokenizer's pad token, else a stop id)."""
    vocab = tokenizer.get_vocab()
    stops = {tokenizer.convert_tokens_to_ids(s) for s in STOP_STRINGS if s in vocab}
    if tokenizer.eos_token_id is not None:
        stops.add(tokenizer.eos_token_id)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(stops)
    return sorted(stops), int(pad)


def _check_sampling(max_new_tokens: int, temperature: float) -> None:
    """Refuse a token budget below one or a negative temperature."""
    if max_new_tokens < 1:
        raise PerceptionError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise PerceptionError(f"temperature must be >= 0, got {temperature}")


class DecodeLoop:
    """``generate`` and ``stream`` over a backend's ``_decode``; see the module docstring."""

    tokenizer: Any
    info: Any  # perception.checkpoints.LoadInfo
    image_size: int
    num_image_tokens: int
    vocab_size: int  # the logits' width
    last_generation: Generation | None
    _constraint: GrammarConstraint | None = None

    def _decode(
        self,
        images: list[ImageLike],
        prompts: list[str],
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        grammar: GrammarState | None,
    ) -> Steps:
        """Yield each step's new token per sequence (None once a sequence has stopped); return
        the clock and each sequence's finish reason. Arguments are checked before the call;
        with ``grammar``, every sampling takes its mask first and tells it the tokens taken."""
        raise NotImplementedError

    def _grammar(self, grammar: str | None, batch: int) -> GrammarState | None:
        """Matchers for ``grammar`` (compiled once per model), or None without one."""
        if grammar is None:
            return None
        if self._constraint is None:
            stops, _ = stop_and_pad_ids(self.tokenizer)
            self._constraint = GrammarConstraint(self.tokenizer, self.vocab_size, stops)
        return self._constraint.start(grammar, batch)

    def generate(
        self,
        image: ImageLike | Sequence[ImageLike],
        prompt: str | Sequence[str],
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        seed: int | None = None,
        grammar: str | None = None,
    ) -> Generation | list[Generation]:
        """Answer ``prompt`` about ``image``; lists of both make one batched call. With
        ``grammar`` (Lark, llguidance's dialect: :mod:`perception.grammar`) every answer is text
        of it."""
        batched = not isinstance(prompt, str)
        images, prompts = self._as_batch(image, prompt)
        _check_sampling(max_new_tokens, temperature)
        state = self._grammar(grammar, len(prompts))
        gens = self._collect(
            self._decode(images, prompts, max_new_tokens, temperature, seed, state)
        )
        self.last_generation = gens[-1]
        return gens if batched else gens[0]

    def stream(
        self,
        image: ImageLike,
        prompt: str,
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        seed: int | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Yield the answer piece by piece; ``self.last_generation`` holds it when done."""
        _check_sampling(max_new_tokens, temperature)
        state = self._grammar(grammar, 1)
        steps = self._decode([image], [prompt], max_new_tokens, temperature, seed, state)
        ids: list[int] = []
        shown = ""
        try:
            while True:
                token = next(steps)[0]
                if token is None:
                    continue
                ids.append(token)
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                if text.endswith("\ufffd"):
                    continue  # an incomplete UTF-8 sequence: wait for the next token
                if len(text) > len(shown):
                    yield text[len(shown) :]
                    shown = text
        except StopIteration as stop:
            self.last_generation = self._finish([ids], *stop.value)[0]
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        if len(text) > len(shown):  # bytes that never formed valid UTF-8 are flushed at the end
            yield text[len(shown) :]

    @staticmethod
    def _as_batch(image: Any, prompt: Any) -> tuple[list[ImageLike], list[str]]:
        if isinstance(prompt, str):
            return [image], [prompt]
        images = list(image) if isinstance(image, (list, tuple)) else None
        if images is None or len(images) != len(prompt) or not prompt:
            raise PerceptionError(
                "a batched call takes a list of images and a list of prompts of the same, "
                "non-zero length"
            )
        return images, list(prompt)

    def _pixels(self, images: Sequence[ImageLike]) -> np.ndarray:
        return preprocess(images, self.image_size, self.info.image_mean, self.info.image_std)

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def _collect(self, steps: Steps) -> list[Generation]:
        ids: list[list[int]] | None = None
        try:
            while True:
                tokens = next(steps)
                ids = ids or [[] for _ in tokens]
                for seq, tok in zip(ids, tokens, strict=True):
                    if tok is not None:
                        seq.append(tok)
        except StopIteration as stop:
            return self._finish(ids or [], *stop.value)

    def _finish(self, ids: list[list[int]], clock: Clock, reasons: list[str]) -> list[Generation]:
        n_new = sum(len(seq) for seq in ids)
        after_first = n_new - len(ids)
        timings = Timings(
            preprocess_s=clock.preprocess_s,
            vision_encode_s=clock.encode_s,
            prefill_s=clock.prefill_s,
            ttft_s=clock.ttft_s,
            decode_s=clock.decode_s,
            decode_tokens_per_s=after_first / clock.decode_s if clock.decode_s > 0 else 0.0,
            num_image_tokens=self.num_image_tokens,
            num_prompt_tokens=clock.prompt_tokens,
            num_generated_tokens=n_new,
        )
        return [
            Generation(
                text=self.tokenizer.decode(seq, skip_special_tokens=True).strip(),
                token_ids=seq,
                finish_reason=reason,  # type: ignore[arg-type]
                timings=timings,
            )
            for seq, reason in zip(ids, reasons, strict=True)
        ]
