"""Grammar-constrained decoding for both backends, through llguidance.

``generate(..., grammar=LARK)`` lets each decoding step pick only tokens that keep the answer a
prefix of a string the grammar accepts, and once the grammar is complete only a stop token, so
the answer is always text of the grammar (unless ``max_new_tokens`` cuts it short). The grammar
is Lark text in llguidance's dialect (``start: /click\\(\\d+, \\d+\\)/``). The backends ask
:class:`GrammarState` for a mask over the vocabulary before each sampling (greedy or not: the
other tokens' logits become ``-inf``) and tell it the tokens taken. The mask is unpacked with
numpy for both backends: llguidance's own appliers are a ``torch.compile`` kernel (a compiler
at the first call, on the CPU) and a Metal kernel (no MLX CPU).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from perception.errors import BackendUnavailable, PerceptionError

_CACHE_SIZE = 8  # checked grammars kept per model


def _llguidance() -> Any:
    try:
        import llguidance
        import llguidance.hf
        import llguidance.numpy
    except ImportError as err:
        raise BackendUnavailable(
            "grammar-constrained decoding needs llguidance: pip install "
            "'fastvlm-agent-sdk[torch]' (or pip install llguidance), or decode without a grammar"
        ) from err
    return llguidance


class GrammarConstraint:
    """A model's tokenizer as llguidance sees it, and the grammars checked against it."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_ids: list[int]) -> None:
        llg = _llguidance()
        self._llg, self.vocab_size = llg, vocab_size
        self._tokenizer = llg.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=stop_ids)
        self._stops = frozenset(stop_ids)
        self._grammars: OrderedDict[str, str] = OrderedDict()

    def start(self, grammar: str, batch: int) -> GrammarState:
        """Fresh matchers, one per sequence of a call, at the start of the answer."""
        spec = self._grammars.get(grammar)
        if spec is None:
            spec = self._llg.LLMatcher.grammar_from_lark(grammar)
            error = self._llg.LLMatcher.validate_grammar(spec, self._tokenizer)
            if error:
                raise PerceptionError(f"the grammar is not valid Lark for llguidance: {error}")
            self._grammars[grammar] = spec
            if len(self._grammars) > _CACHE_SIZE:
                self._grammars.popitem(last=False)
        self._grammars.move_to_end(grammar)
        matchers = [self._llg.LLMatcher(self._tokenizer, spec) for _ in range(batch)]
        return GrammarState(self._llg, matchers, self.vocab_size, self._stops)


class GrammarState:
    """The grammar's progress through each sequence of one call."""

    def __init__(self, llg: Any, matchers: list[Any], vocab_size: int, stops: frozenset[int]):
        self._llg, self._matchers, self.vocab_size = llg, matchers, vocab_size
        self._stops, self._ended = stops, [False] * len(matchers)
        self._bitmask = llg.numpy.allocate_token_bitmask(len(matchers), vocab_size)

    def allowed(self) -> np.ndarray:
        """``batch x vocab`` booleans: the tokens each sequence may take next. A sequence that
        has stopped may take anything (what it takes is padding, never part of its answer)."""
        for i, matcher in enumerate(self._matchers):
            if self._ended[i]:
                self._bitmask[i] = -1  # all ones
            else:
                self._llg.numpy.fill_next_token_bitmask(matcher, self._bitmask, i)
        flat = np.unpackbits(self._bitmask.view(np.uint8), axis=1, bitorder="little")
        return flat[:, : self.vocab_size].astype(bool)

    def accept(self, tokens: list[int]) -> None:
        """Advance each sequence by the token it took (its stop token included)."""
        for i, (matcher, token) in enumerate(zip(self._matchers, tokens, strict=True)):
            if self._ended[i]:
                continue
            if not matcher.consume_token(token):
                raise PerceptionError(
                    f"token {token} is outside the grammar ({matcher.get_error()}): a masking bug"
                )
            self._ended[i] = token in self._stops
