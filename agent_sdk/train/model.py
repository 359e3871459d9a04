"""Model sizes, their ``fast_vlm`` configs, and the tokenizer trained on the data."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import FastVlmConfig, PreTrainedTokenizerFast

from agent_sdk.errors import ConfigError
from perception.tiny import CHAT_TEMPLATE, SPECIAL_TOKENS


# -- model sizes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSize:
    """A FastVLM shrunk: timm ``fastvit_mci3`` stages, a Qwen2, a tokenizer size."""

    image_size: int  # a multiple of 64; (image_size / 64) ** 2 image tokens
    vision_layers: tuple[int, int, int, int, int]  # blocks per stage (FastViTHD: 2, 12, 24, 4, 2)
    vision_dims: tuple[int, int, int, int, int]  # channels; the last two divisible by 32 (heads)
    text_hidden: int
    text_layers: int
    text_heads: int
    text_kv_heads: int
    text_intermediate: int
    vocab_size: int = 1024  # tokens the BPE learns, chat specials included


SIZES: dict[str, ModelSize] = {
    "tiny": ModelSize(128, (1, 1, 1, 1, 1), (8, 16, 32, 64, 128), 64, 2, 4, 2, 128, 512),
    "small": ModelSize(320, (1, 1, 2, 1, 1), (16, 32, 64, 128, 256), 256, 4, 4, 2, 768),
    "base": ModelSize(256, (1, 2, 4, 2, 1), (24, 48, 96, 192, 384), 384, 6, 6, 2, 1152),
}
"""Named sizes: ``tiny`` for tests, ``small`` trains on two CPU cores in about two hours."""


def model_config(size: ModelSize, tokenizer: PreTrainedTokenizerFast) -> FastVlmConfig:
    """The ``fast_vlm`` config of ``size`` for ``tokenizer`` (``<image>`` gets the next id)."""
    if size.image_size <= 0 or size.image_size % 64:
        raise ConfigError(f"image_size must be a positive multiple of 64, got {size.image_size}")
    image_id = len(tokenizer)
    vocab = tokenizer.get_vocab()
    return FastVlmConfig(
        vision_config={
            "model_type": "timm_wrapper", "architecture": "fastvit_mci3", "global_pool": "avg",
            "hidden_size": size.vision_dims[-1] * 2,  # final_conv doubles the channels
            "model_args": {"inference_mode": True, "layers": list(size.vision_layers),
                           "embed_dims": list(size.vision_dims)},
        },
        text_config={
            "model_type": "qwen2", "vocab_size": 64 * math.ceil((image_id + 1) / 64),
            "hidden_size": size.text_hidden, "intermediate_size": size.text_intermediate,
            "num_hidden_layers": size.text_layers, "num_attention_heads": size.text_heads,
            "num_key_value_heads": size.text_kv_heads, "max_position_embeddings": 2048,
            "rope_theta": 1_000_000.0, "tie_word_embeddings": True,
            "bos_token_id": vocab["<|endoftext|>"], "eos_token_id": vocab["<|im_end|>"],
        },
        image_token_index=image_id,
        image_seq_length=(size.image_size // 64) ** 2,
        tie_word_embeddings=True,
    )  # fmt: skip


# -- tokenizer ------------------------------------------------------------------------------------
_SPECIAL = re.compile("|".join(re.escape(t) for t in (*SPECIAL_TOKENS, "<image>")))


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on ``texts`` with Qwen2's chat special tokens (last ids) and
    chat template. Digits and newlines are pieces of their own; other merges may span spaces."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\d|\n"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator((p for t in texts for p in _SPECIAL.split(t) if p), trainer=trainer)
    bpe.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )  # fmt: skip
