"""Examples as tensors in memory, batches, and the answer-only loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import FastVlmForConditionalGeneration, PreTrainedTokenizerFast

from agent_sdk.collect import Example
from perception.preprocess import preprocess
from perception.prompts import chat_prompt, split_on_image


# -- tokenised data in memory ---------------------------------------------------------------------
@dataclass
class Dataset:
    """Examples as tensors: pixels (uint8, the model's input size) and token ids with the
    number of prompt tokens of each (the rest is the answer and the stop token)."""

    pixels: torch.Tensor  # N x 3 x S x S uint8
    ids: list[torch.Tensor]
    prompt_lens: list[int]

    def __len__(self) -> int:
        return len(self.ids)


def encode_example(
    tokenizer: PreTrainedTokenizerFast, prompt: str, answer: str, image_id: int, image_tokens: int,
    cache: dict[str, list[int]] | None = None,
) -> tuple[list[int], int]:  # fmt: skip
    """Token ids of one example as the backend builds them (text, image, text), then the
    answer and ``<|im_end|>``; and how many of them are the prompt."""

    def tokens(text: str) -> list[int]:
        if cache is None:
            return tokenizer(text, add_special_tokens=False).input_ids
        if text not in cache:
            cache[text] = tokenizer(text, add_special_tokens=False).input_ids
        return cache[text]

    before, after = split_on_image(chat_prompt(prompt))
    head = [*tokens(before), *[image_id] * image_tokens, *tokens(after)]
    return [*head, *tokens(answer), tokenizer.convert_tokens_to_ids("<|im_end|>")], len(head)


def label_mask(
    ids: torch.Tensor, prompt_lens: Sequence[int], lengths: Sequence[int]
) -> torch.Tensor:
    """``B x L`` bool: the positions whose token is learnt (answer and stop token)."""
    pos = torch.arange(ids.shape[1])[None]
    starts = torch.tensor(prompt_lens)[:, None]
    return (pos >= starts) & (pos < torch.tensor(lengths)[:, None])


def build_dataset(
    examples: Sequence[Example], tokenizer: PreTrainedTokenizerFast, image_id: int,
    image_size: int, image_tokens: int, mean: Sequence[float] = (0.0,) * 3,
    std: Sequence[float] = (1.0,) * 3,
) -> Dataset:  # fmt: skip
    """Preprocess every image as the backend does (pad, bicubic resize) and tokenise once."""
    pixels = torch.empty(len(examples), 3, image_size, image_size, dtype=torch.uint8)
    m, s = np.asarray(mean)[:, None, None], np.asarray(std)[:, None, None]
    for start in range(0, len(examples), 256):
        chunk = [ex.image for ex in examples[start : start + 256]]
        raw = preprocess(chunk, image_size, mean, std) * s + m  # back to [0, 1]
        pixels[start : start + len(chunk)] = torch.from_numpy(np.rint(raw * 255).astype(np.uint8))
    cache: dict[str, list[int]] = {}
    ids, lens = [], []
    for ex in examples:
        seq, n = encode_example(tokenizer, ex.prompt, ex.target, image_id, image_tokens, cache)
        ids.append(torch.tensor(seq))
        lens.append(n)
    return Dataset(pixels, ids, lens)


def collate(data: Dataset, index: Sequence[int], pad_id: int) -> dict[str, torch.Tensor]:
    """A right-padded batch: pixels, ids, attention mask and the label mask."""
    seqs = [data.ids[i] for i in index]
    lengths = [len(s) for s in seqs]
    ids = torch.full((len(seqs), max(lengths)), pad_id, dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
    mask = torch.arange(ids.shape[1])[None] < torch.tensor(lengths)[:, None]
    labels = label_mask(ids, [data.prompt_lens[i] for i in index], lengths)
    return {"pixels": data.pixels[list(index)], "ids": ids, "mask": mask, "labels": labels}


# -- the loss -------------------------------------------------------------------------------------
def answer_loss(
    model: FastVlmForConditionalGeneration, batch: dict[str, torch.Tensor],
    mean: Sequence[float] = (0.0,) * 3, std: Sequence[float] = (1.0,) * 3,
    channels_last: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Mean cross-entropy over the answer tokens, and the fraction predicted right."""
    dev = next(model.parameters()).device
    m = torch.tensor(mean, device=dev)[:, None, None]
    s = torch.tensor(std, device=dev)[:, None, None]
    pixels = (batch["pixels"].to(dev).float() / 255 - m) / s
    if channels_last:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
    ids, mask, labels = batch["ids"].to(dev), batch["mask"].to(dev), batch["labels"].to(dev)
    image = ids == model.config.image_token_id
    feats = model.model.get_image_features(pixel_values=pixels).pooler_output
    embeds = model.get_input_embeddings()(torch.where(image, 0, ids))
    embeds = embeds.masked_scatter(image[..., None], feats.to(embeds.dtype))
    hidden = model.model.language_model(
        inputs_embeds=embeds, attention_mask=mask.long()
    ).last_hidden_state
    predict = labels[:, 1:]  # the state at t predicts token t + 1
    logits = model.lm_head(hidden[:, :-1][predict]).float()
    target = ids[:, 1:][predict]
    loss = torch.nn.functional.cross_entropy(logits, target)
    return loss, (logits.argmax(-1) == target).float().mean()
