"""Prompts exactly as FastVLM was trained on them: the ``qwen_2`` chat template, one image.

Apple's template (``llava/conversation.py``, ``conv_qwen_2``) renders one user turn as::

    <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n
    <|im_start|>user\\n<image>\\n{question}<|im_end|>\\n<|im_start|>assistant\\n

``<image>`` marks where the image's tokens go; the backends split the prompt there, tokenise the
text on both sides and splice the image features in between.
"""

from __future__ import annotations

IMAGE_PLACEHOLDER = "<image>"
SYSTEM_PROMPT = "You are a helpful assistant."
STOP_STRINGS = ("<|im_end|>", "<|endoftext|>")


def chat_prompt(question: str, system: str = SYSTEM_PROMPT) -> str:
    """One user turn with one image, ready for generation (ends with the assistant's header)."""
    if IMAGE_PLACEHOLDER in question:
        raise ValueError(
            f"the question must not contain {IMAGE_PLACEHOLDER!r}; the template adds the image"
        )
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{IMAGE_PLACEHOLDER}\n{question}<|im_end|>\n"
        f"<|im_start|>assistant\n"
    )


def split_on_image(prompt: str) -> tuple[str, str]:
    """The text before and after the single image placeholder of a rendered prompt."""
    parts = prompt.split(IMAGE_PLACEHOLDER)
    if len(parts) != 2:
        raise ValueError(
            f"a prompt must hold exactly one {IMAGE_PLACEHOLDER!r}, found {len(parts) - 1}"
        )
    return parts[0], parts[1]
