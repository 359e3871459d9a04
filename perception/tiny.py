"""Small FastVLM checkpoints with random weights, written exactly as real ones are.

For tests, demos and training smoke runs: `save_tiny_checkpoint` writes an hf or apple folder
that `load_fastvlm_torch` reads through the same code path as a real download. The model is
FastVLM's architecture shrunk (timm ``fastvit_mci3`` with one block per stage and narrow
channels; a two-layer Qwen2), about half a million parameters; the tokenizer is a byte-level BPE
with Qwen2's special tokens and chat template, built offline.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import FastVlmConfig, FastVlmForConditionalGeneration, PreTrainedTokenizerFast

from perception.checkpoints import CheckpointFormat, PathLike, save_fastvlm_checkpoint

TINY_VISION_ARGS = {  # timm fastvit_mci3 kwargs: the full model has (2, 12, 24, 4, 2) layers
    "inference_mode": True,
    "layers": [1, 1, 1, 1, 1],
    "embed_dims": [8, 16, 32, 64, 128],  # the last two stages attend with 32-wide heads
}
TINY_TOKENIZER_SIZE = 512  # 509 byte-level BPE tokens + 3 specials; also the image token id
TINY_VOCAB_SIZE = 640  # embedding rows: the tokenizer, <image>, padding to a multiple of 64
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (  # Qwen2's
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_CORPUS = (
    "You are a helpful assistant. Describe the image in one sentence.",
    "The screen shows a window with a title bar, a menu, buttons and a text field.",
    "Click the OK button. Type your name into the search box and press Enter.",
    "Scroll down the list until you see the checkbox labelled Remember me, then tick it.",
    "The red square is to the left of the blue circle; the green triangle is below them.",
    "Pick up the yellow cube and place it on the plate next to the robot gripper.",
    "Move the arm up, open the gripper, close the gripper, then move it to the target.",
    "Answer with a single action: click, double_click, right_click, drag, scroll, type_text,",
    "key, hotkey, wait, done or fail. Coordinates are integers from 0 to 1000.",
    "Select the third item in the dropdown menu and submit the form.",
    'The dialog asks "Save changes?" with the options Yes, No and Cancel.',
    "Where is the settings icon? It is in the top right corner of the window.",
)


def tiny_config(
    image_size: int = 256,
    vocab_size: int = TINY_VOCAB_SIZE,
    *,
    tie_word_embeddings: bool = True,
) -> FastVlmConfig:
    """A FastVLM config of the real architecture at toy width and depth."""
    if image_size <= 0 or image_size % 64:
        raise ValueError(f"image_size must be a positive multiple of 64, got {image_size}")
    if vocab_size <= TINY_TOKENIZER_SIZE:
        raise ValueError(f"vocab_size must exceed {TINY_TOKENIZER_SIZE}, got {vocab_size}")
    return FastVlmConfig(
        vision_config={
            "model_type": "timm_wrapper",
            "architecture": "fastvit_mci3",
            "global_pool": "avg",
            "hidden_size": TINY_VISION_ARGS["embed_dims"][-1] * 2,  # final_conv doubles it
            "model_args": TINY_VISION_ARGS,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": vocab_size,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "rope_theta": 1_000_000.0,
            "tie_word_embeddings": tie_word_embeddings,
            "bos_token_id": TINY_TOKENIZER_SIZE - 3,  # <|endoftext|>, as in Qwen2
            "eos_token_id": TINY_TOKENIZER_SIZE - 1,  # <|im_end|>
        },
        image_token_index=TINY_TOKENIZER_SIZE,
        image_seq_length=(image_size // 64) ** 2,
        tie_word_embeddings=tie_word_embeddings,
    )


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A deterministic byte-level BPE with Qwen2's specials (ids 509-511) and chat template."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_TOKENIZER_SIZE - len(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    clicks = [f"click({i * 37 % 1001}, {i * 91 % 1001})" for i in range(100)]
    bpe.train_from_iterator([*_CORPUS, *clicks], trainer=trainer)
    bpe.add_special_tokens(list(SPECIAL_TOKENS))
    if bpe.get_vocab_size() != TINY_TOKENIZER_SIZE:
        raise RuntimeError(f"tiny tokenizer has {bpe.get_vocab_size()} tokens, not 512")
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )


def _random_like(name: str, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random tensor of `like`'s shape with a sensible scale for what `name` is."""
    shape = like.shape
    if not like.is_floating_point():
        return torch.zeros(shape, dtype=like.dtype)  # BatchNorm's num_batches_tracked
    noise = torch.randn(shape, generator=generator)
    if name.endswith("running_var"):
        return torch.rand(shape, generator=generator) + 0.5
    if name.endswith("gamma"):  # layer scales
        return 0.1 * noise
    if like.dim() >= 2:
        return noise / math.sqrt(like[0].numel())
    if name.endswith(("norm.weight", "bn.weight")):
        return 1.0 + 0.1 * noise
    return 0.02 * noise  # biases, running means


def random_state_dict(
    reference: Mapping[str, torch.Tensor], *, seed: int = 0, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Random tensors with the names and shapes of `reference` (e.g. a meta model's state dict).

    Each tensor depends only on its name and `seed`, so two configs that share a tensor (tied
    and untied heads, say) get the same values for it.
    """
    state = {}
    for name, like in reference.items():
        generator = torch.Generator().manual_seed(zlib.crc32(f"{seed}:{name}".encode()))
        value = _random_like(name, like, generator)
        state[name] = value.to(dtype) if value.is_floating_point() else value
    return state


def save_tiny_checkpoint(
    dst: PathLike,
    layout: CheckpointFormat | str = CheckpointFormat.HF,
    *,
    seed: int = 0,
    tie_word_embeddings: bool = True,
    dtype: torch.dtype = torch.float32,
    image_size: int = 256,
    overwrite: bool = False,
) -> Path:
    """Write a tiny random FastVLM folder in the hf or apple layout; the same seed, the same bytes.

    The apple layout also gets the CLIP head tensor (``head.proj``) Apple's folders carry and
    the timm kwargs in ``mm_vision_model_args``.
    """
    config = tiny_config(image_size, tie_word_embeddings=tie_word_embeddings)
    with torch.device("meta"):
        reference = FastVlmForConditionalGeneration(config).state_dict()
    if CheckpointFormat(layout) is CheckpointFormat.APPLE:
        width = config.vision_config.hidden_size
        reference["model.vision_tower.timm_model.head.proj"] = torch.empty(width, 16, device="meta")
    state = random_state_dict(reference, seed=seed, dtype=dtype)
    return save_fastvlm_checkpoint(
        dst, state, config, layout=layout, tokenizer=tiny_tokenizer(), overwrite=overwrite
    )
