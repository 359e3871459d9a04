"""Examples as tensors in memory, batches, and the answer-only loss."""

from __future__ import annotations

import io
import itertools
import math
import operator
import re
import string
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from transformers import FastVlmForConditionalGeneration, PreTrainedTokenizerFast
from transformers.models.qwen2.modeling_qwen2 import rotate_half

from actions.errors import ParseError
from actions.parse import parse_action
from actions.schema import TypeText
from agent_sdk.collect import Example
from agent_sdk.ordered import ordered_map
from agent_sdk.prompting import step_prompt
from perception.preprocess import model_image, pad_fill
from perception.prompts import chat_prompt, split_on_image

# -- tokenised data in memory ---------------------------------------------------------------------
Packed = tuple[Sequence[np.ndarray], Sequence[tuple[int, int]]]
"""Examples' images as `PackedImages` keeps them, with their source (width, height) each."""


class PackedImages:
    """The model's input images (``3 x S x S`` uint8) kept PNG-compressed in memory, decoded when
    read: lossless, and a 320 px image shrinks from 300 KB to about 16 KB (the mean over the
    shipped model's data, `benchmarks/train_memory.py`), so the data a run holds is no longer
    bound by memory (decoding costs about 1 ms an image, against hundreds of
    ms a training step). Indexing as a tensor's first axis: ``images[i]`` is one image,
    ``images[[i, j]]`` and ``images[a:b]`` a stacked batch; ``images[i] = image`` replaces one.
    ``threads`` > 1 decodes a batch in that many threads (PIL releases the GIL while it
    decodes), for a fast accelerator whose steps would otherwise wait on one CPU core."""

    def __init__(self, size: int, threads: int = 1) -> None:
        self.size = size
        self._blobs: list[np.ndarray] = []
        self._pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def append(self, image: torch.Tensor | np.ndarray) -> None:
        """Add a ``3 x S x S`` uint8 image at the end."""
        self._blobs.append(pack_image(image, self.size))

    def __len__(self) -> int:
        return len(self._blobs)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return len(self), 3, self.size, self.size

    @property
    def nbytes(self) -> int:
        """Bytes the packed images take."""
        return sum(blob.nbytes for blob in self._blobs)

    def __getitem__(self, key: int | slice | Sequence[int]) -> torch.Tensor:
        if not isinstance(key, (slice, Sequence)):
            image = self._decode(self._blobs[operator.index(key)])  # numpy ints too
            return torch.from_numpy(image.transpose(2, 0, 1).copy())
        keys = range(len(self))[key] if isinstance(key, slice) else key
        batch = torch.empty(len(keys), 3, self.size, self.size, dtype=torch.uint8)

        def fill(row: int) -> None:  # decoded straight into the batch: no stacking copy
            batch[row].numpy()[:] = self._decode(self._blobs[keys[row]]).transpose(2, 0, 1)

        rows = range(len(keys))
        list(self._pool.map(fill, rows) if self._pool else map(fill, rows))
        return batch

    def __setitem__(self, i: int, image: torch.Tensor | np.ndarray) -> None:
        self._blobs[i] = pack_image(image, self.size)

    @staticmethod
    def _decode(blob: np.ndarray) -> np.ndarray:
        """A packed image, decoded: ``S x S x 3`` uint8 (read-only)."""
        with Image.open(io.BytesIO(blob.tobytes())) as image:
            return np.asarray(image)

    @property
    def blobs(self) -> list[np.ndarray]:
        """The packed images (`pack_image`'s PNG bytes), in order (not copies)."""
        return self._blobs

    def extend_packed(self, blobs: Iterable[np.ndarray]) -> None:
        """Add images already packed by `pack_image` (at this size) at the end."""
        self._blobs.extend(blobs)


def pack_image(image: torch.Tensor | np.ndarray, size: int) -> np.ndarray:
    """A ``3 x size x size`` uint8 image as `PackedImages` keeps it (PNG bytes)."""
    array = np.asarray(image)
    if array.shape != (3, size, size) or array.dtype != np.uint8:
        raise ValueError(f"expected a 3 x {size} x {size} uint8 image, got "
                         f"{array.shape} {array.dtype}")  # fmt: skip
    return _png(Image.fromarray(np.ascontiguousarray(array.transpose(1, 2, 0))))


def _png(image: Image.Image) -> np.ndarray:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


@dataclass
class Dataset:
    """Examples in memory: images (`PackedImages`, the model's input size) and token ids with
    the number of prompt tokens of each (the rest is the answer and the stop token), and the
    image token under each answer's first point (-1: the answer has none)."""

    pixels: PackedImages
    ids: list[torch.Tensor]
    prompt_lens: list[int]
    cells: torch.Tensor  # N, long
    answers: list[str] = field(default_factory=list)  # the answers' text (for `Spotlight`)
    sizes: list[tuple[int, int]] = field(default_factory=list)  # each image's (width, height)
    # each pointing example asked as a grounding example (`Grounding`), and the prompt length
    # these share (one fixed prompt)
    ground_ids: list[torch.Tensor | None] = field(default_factory=list)
    ground_prompt_len: int = 0
    words: list[torch.Tensor] = field(default_factory=list)  # each instruction's token ids, once
    # per token id: ln(examples / examples whose instruction holds it), 0 for tokens in none
    word_idf: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    # each example's instruction and history (`CopyText` rewrites them); None for robot steps
    steps: list[tuple[str, tuple[str, ...]] | None] = field(default_factory=list)
    # per example: the position of the state that predicts a drag's end x (its first token),
    # and the image token under that end point; -1, -1 when the answer is no drag (`drag_query`)
    ends: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 2, dtype=torch.long))

    def __len__(self) -> int:
        return len(self.ids)


def encode_example(
    tokenizer: PreTrainedTokenizerFast, prompt: str, answer: str, image_id: int, image_tokens: int,
    cache: dict[str, list[int]] | None = None,
) -> tuple[list[int], int]:  # fmt: skip
    """Token ids of one example as the backend builds them (text, image, text), then the
    answer and ``<|im_end|>``; and how many of them are the prompt."""
    before, after = split_on_image(chat_prompt(prompt))
    head = [*token_ids(tokenizer, before, cache), *[image_id] * image_tokens,
            *token_ids(tokenizer, after, cache)]  # fmt: skip
    answer_ids = token_ids(tokenizer, answer, cache)
    return [*head, *answer_ids, tokenizer.convert_tokens_to_ids("<|im_end|>")], len(head)


def token_ids(
    tokenizer: PreTrainedTokenizerFast, text: str, cache: dict[str, list[int]] | None = None
) -> list[int]:
    """``text``'s token ids (no special tokens), kept in ``cache`` when one is given."""
    if cache is None:
        return tokenizer(text, add_special_tokens=False).input_ids
    if text not in cache:
        cache[text] = tokenizer(text, add_special_tokens=False).input_ids
    return cache[text]


_CHUNK = 64  # images preprocessed and packed at once (a task of `build_dataset`'s threads)
_FIRST_POINT = re.compile(r"^\s*[a-z_]+\(\s*(\d+)\s*,\s*(\d+)")
_DRAG_END = re.compile(r"^\s*drag\(\s*\d+\s*,\s*\d+\s*,\s*(\d+)\s*,\s*(\d+)")


def _in_model_image(x: str, y: str, width: int, height: int) -> tuple[float, float]:
    side = max(width, height)
    return ((int(x) / 1000 * width + (side - width) / 2) / side,
            (int(y) / 1000 * height + (side - height) / 2) / side)  # fmt: skip


def first_point(answer: str, width: int, height: int) -> tuple[float, float] | None:
    """Where the first point of ``answer`` (0-1000 of a ``width x height`` image) lies in the
    padded, square model image, as fractions of its side; ``None`` when the answer starts with
    no point (typing, keys, ``done()``)."""
    match = _FIRST_POINT.match(answer)
    return None if match is None else _in_model_image(match[1], match[2], width, height)


def drag_end(answer: str, width: int, height: int) -> tuple[float, float] | None:
    """The end point of an answer that starts with a drag (as `first_point`), else ``None``."""
    match = _DRAG_END.match(answer)
    return None if match is None else _in_model_image(match[1], match[2], width, height)


def drag_query(
    answer: str, answer_ids: Sequence[int], tokens: Callable[[str], list[int]], width: int,
    height: int, grid: int,
) -> tuple[int, int]:  # fmt: skip
    """For an answer that starts with a drag: how many of its tokens (``answer_ids``) come
    before the end point's x, and the image token under the end point (`grid_cell`); ``(-1,
    -1)`` for any other answer, or where the text before x does not tokenise as the start of
    ``answer_ids`` (``tokens``: the tokeniser of a text, no special tokens)."""
    match = _DRAG_END.match(answer)
    if match is None:
        return -1, -1
    before = tokens(answer[: match.start(1)])
    if list(answer_ids[: len(before)]) != before:
        return -1, -1
    end = _in_model_image(match[1], match[2], width, height)
    return len(before), grid_cell(*end, grid)


GROUND_INSTRUCTION = "Click the one element left on the screen."
"""The instruction of a grounding example (`Grounding`): the image shows nothing else."""


def ground_answer(answer: str) -> str | None:
    """The click on the first point of ``answer`` (same 0-1000 coordinates), or ``None``."""
    match = _FIRST_POINT.match(answer)
    return None if match is None else f"click({int(match[1])}, {int(match[2])})"


def target_cell(answer: str, width: int, height: int, grid: int) -> int:
    """Index of the image token (row-major in a ``grid x grid`` raster of the padded, square
    model image) under the first point of ``answer``, or -1 when it has none."""
    point = first_point(answer, width, height)
    return -1 if point is None else grid_cell(*point, grid)


def grid_cell(fx: float, fy: float, grid: int) -> int:
    """Index of the image token (row-major, ``grid x grid``) over the point ``(fx, fy)`` of the
    square model image, as fractions of its side (clamped to the image)."""
    col, row = (min(max(math.floor(v * grid), 0), grid - 1) for v in (fx, fy))
    return row * grid + col


def label_mask(
    ids: torch.Tensor, prompt_lens: Sequence[int], lengths: Sequence[int]
) -> torch.Tensor:
    """``B x L`` bool: the positions whose token is learnt (answer and stop token)."""
    pos = torch.arange(ids.shape[1])[None]
    starts = torch.tensor(prompt_lens)[:, None]
    return (pos >= starts) & (pos < torch.tensor(lengths)[:, None])


def build_dataset(
    examples: Iterable[Example], tokenizer: PreTrainedTokenizerFast, image_id: int,
    image_size: int, image_tokens: int, mean: Sequence[float] = (0.0,) * 3,
    ground: bool = False, threads: int = 1,
    packed: Packed | None = None,
) -> Dataset:  # fmt: skip
    """Preprocess every image as the backend does (pad, bicubic resize) and tokenise once;
    ``ground`` also tokenises each pointing example as a grounding example (`Grounding`).
    ``packed``: the examples' images already preprocessed and packed, with their source sizes
    (`Dataset.pixels.blobs`, `Dataset.sizes`; `image_cache`), one per example in order; the
    examples' own images are then not read (read them with ``images=False``).

    ``examples`` is read as a stream, ``_CHUNK`` at a time, so only the packed images stay;
    ``threads`` > 1 preprocesses and packs chunks in that many threads (the same images), and
    the dataset's batches are decoded in as many (`PackedImages`)."""
    pixels = PackedImages(image_size, threads)
    texts: list[tuple[str, str, int, int, str]] = []  # prompt, answer, width, height, instruction
    steps: list[tuple[str, tuple[str, ...]] | None] = []

    def chunks() -> Iterator[list[np.ndarray]]:
        for chunk in _batched(examples, _CHUNK):
            at = len(texts)
            sizes = (packed[1][at:at + len(chunk)] if packed is not None
                     else [(ex.image.shape[1], ex.image.shape[0]) for ex in chunk])  # fmt: skip
            texts.extend((ex.prompt, ex.target, *size, ex.instruction)
                         for ex, size in zip(chunk, sizes, strict=True))  # fmt: skip
            steps.extend(None if ex.robot else (ex.instruction, ex.history) for ex in chunk)
            yield [ex.image for ex in chunk]

    def pack(images: list[np.ndarray]) -> list[np.ndarray]:
        return pack_model_images(images, image_size, mean)

    if packed is not None:
        if len(packed[0]) != len(packed[1]):
            raise ValueError(f"packed: {len(packed[0])} images, {len(packed[1])} sizes")
        for _ in chunks():  # the texts alone
            pass
        if len(texts) != len(packed[0]):
            raise ValueError(f"packed holds {len(packed[0])} images for {len(texts)} examples")
        pixels.extend_packed(packed[0])
    else:
        with ThreadPoolExecutor(threads) as pool:
            for blobs in ordered_map(pool, pack, chunks(), ahead=2 * threads):
                pixels.extend_packed(blobs)
    cache: dict[str, list[int]] = {}
    ids, lens, cells, ground_ids, ground_len, words, ends = [], [], [], [], 0, [], []
    grid = math.isqrt(image_tokens)
    ground_prompt = step_prompt(GROUND_INSTRUCTION)
    word_ids: dict[str, torch.Tensor] = {}
    for prompt, answer, width, height, instruction in texts:
        seq, n = encode_example(tokenizer, prompt, answer, image_id, image_tokens, cache)
        ids.append(torch.tensor(seq))
        if instruction not in word_ids:
            ids_of = token_ids(tokenizer, instruction)
            word_ids[instruction] = torch.tensor(sorted(set(ids_of)), dtype=torch.long)
        words.append(word_ids[instruction])
        lens.append(n)
        cells.append(target_cell(answer, width, height, grid))
        before, end_cell = drag_query(
            answer, seq[n:], lambda text: token_ids(tokenizer, text), width, height, grid
        )
        ends.append((n + before - 1 if end_cell >= 0 else -1, end_cell))
        click = ground_answer(answer) if ground else None
        if click is None:
            ground_ids.append(None)
            continue
        seq, ground_len = encode_example(
            tokenizer, ground_prompt, click, image_id, image_tokens, cache
        )
        ground_ids.append(torch.tensor(seq))
    df = torch.bincount(torch.cat(words), minlength=len(tokenizer)).float() if words else None
    idf = torch.zeros(0) if df is None else torch.where(df > 0, (len(words) / df).log(), 0.0)
    return Dataset(pixels, ids, lens, torch.tensor(cells, dtype=torch.long),
                   [t[1] for t in texts], [(t[2], t[3]) for t in texts],
                   ground_ids, ground_len, words, idf, steps,
                   torch.tensor(ends, dtype=torch.long).reshape(-1, 2))  # fmt: skip


def pack_model_images(
    images: Sequence[np.ndarray], image_size: int, mean: Sequence[float] = (0.0,) * 3
) -> list[np.ndarray]:
    """``images`` (H x W x 3 uint8) as the model takes them (`preprocess`: padded with the
    ``mean`` colour, resized), each packed as `pack_image` packs it: the uint8 picture is encoded
    as it is, never through floats (the same bytes, several times faster)."""
    fill = pad_fill(mean)
    return [_png(model_image(image, image_size, fill)) for image in images]


def _batched(items: Iterable[Example], n: int) -> Iterator[list[Example]]:
    stream = iter(items)
    while chunk := list(itertools.islice(stream, n)):
        yield chunk


def collate(
    data: Dataset,
    index: Sequence[int],
    pad_id: int,
    spotlight: Spotlight | None = None,
    grounding: Grounding | None = None,
    copy_text: CopyText | None = None,
    images: bool = True,
) -> dict[str, torch.Tensor]:
    """A right-padded batch: pixels, ids, attention mask, the label mask, the prompt lengths,
    the target cells, the drags' end queries and cells (`Dataset.ends`, -1 for none), the
    instructions' token ids (``words``, padded with -1) and their
    ``word_weights`` (`Dataset.word_idf`, 0 for padding);
    ``grounding`` may ask pointing examples as grounding examples, ``spotlight`` may make
    the others easier, and ``copy_text`` may give typed text new letters. ``images=False``
    decodes no image (pixels empty, for cached image features; no spotlight, no grounding)."""
    if not images and (spotlight is not None or grounding is not None):
        raise ValueError("spotlight and grounding change the pixels: they need images=True")
    seqs = [data.ids[i] for i in index]
    prompt_lens = [data.prompt_lens[i] for i in index]
    pixels = data.pixels[list(index)] if images else torch.empty(len(index), 0)  # decoded anew
    ends = data.ends[list(index)] if len(data.ends) else torch.full((len(index), 2), -1)
    for row, i in enumerate(index):
        asked = grounding(data, i, pixels[row]) if grounding is not None else None
        if asked is not None:
            seqs[row], prompt_lens[row], pixels[row] = asked
            ends[row] = -1  # a click now
            continue
        lit = spotlight(data, i, pixels[row]) if spotlight is not None else None
        if lit is not None:
            pixels[row] = lit
        copied = copy_text(data, i) if copy_text is not None else None
        if copied is not None:
            if ends[row, 1] >= 0:  # the history's typing rewritten: the answer moves with it
                ends[row, 0] += copied[1] - prompt_lens[row]
            seqs[row], prompt_lens[row] = copied
    lengths = [len(s) for s in seqs]
    ids = torch.full((len(seqs), max(lengths)), pad_id, dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
    mask = torch.arange(ids.shape[1])[None] < torch.tensor(lengths)[:, None]
    labels = label_mask(ids, prompt_lens, lengths)
    bags = [data.words[i] for i in index] if data.words else []
    words = torch.full((len(index), max((len(b) for b in bags), default=0)), -1)
    for row, bag in enumerate(bags):
        words[row, : len(bag)] = bag
    return {
        "pixels": pixels,
        "ids": ids,
        "mask": mask,
        "labels": labels,
        "prompt_lens": torch.tensor(prompt_lens),
        "cells": data.cells[list(index)],
        "end_queries": ends[:, 0],
        "end_cells": ends[:, 1],
        "words": words,
        "word_weights": data.word_idf[words.clamp(min=0)] * (words >= 0) if bags else words * 0.0,
    }


CENTRED_HALF = 32
"""A spotlight box up to this half-side (model-image pixels) is centred on its target."""


@dataclass
class Spotlight:
    """A curriculum by augmentation: with probability ``prob`` an example whose answer has a
    point keeps only a box around that point (``min_half`` to ``max_half`` pixels of the model
    image on each side, at random) and is painted elsewhere with the image's median colour. What
    is left is one salient object on a plain screen, in its place and at its scale: the easy
    case, in which any average over the image tokens reveals the target's position, so a model
    learns to read positions off the image before it can tell objects apart (on full screens,
    its coordinates stayed image-blind for thousands of steps). The answer is unchanged.

    A ``max_half`` above `CENTRED_HALF` makes a ladder from there to the full screen: a box with
    a larger half-side keeps some of the target's neighbours and is placed at random with the
    target at least ``min_half`` inside it (centred, its middle would give the answer away), so
    the instruction must say which of the few objects left is meant. A drag's end point keeps a
    box too (centred, ``min_half`` to `CENTRED_HALF`), unless ``drag_end`` is off: its answer
    names that point, which must stay in sight. ``rng`` decides everything (seed it per step
    for exact resumes)."""

    prob: float
    rng: np.random.Generator
    min_half: int = 10
    max_half: int = 32
    drag_end: bool = True

    def __call__(
        self, data: Dataset, i: int, image: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """Example ``i``'s spotlit pixels, or ``None`` (left as it is); ``image``: its pixels
        when decoded already (`collate`)."""
        point = first_point(data.answers[i], *data.sizes[i]) if data.answers else None
        if point is None or self.rng.random() >= self.prob:
            return None
        image = data.pixels[i] if image is None else image
        size = image.shape[-1]
        width, height = data.sizes[i]
        square = max(width, height)
        px, py = (int(v * size) for v in point)
        half = int(self.rng.integers(self.min_half, self.max_half + 1))
        cx, cy = px, py  # the box's centre
        if half > CENTRED_HALF:
            cx, cy = (p + int(self.rng.integers(self.min_half - half, half - self.min_half + 1))
                      for p in (px, py))  # fmt: skip
        x0, y0 = max(cx - half, 0), max(cy - half, 0)
        # the screen inside the padding bands, which stay as they are
        left, top = ((square - w) / 2 / square * size for w in (width, height))
        sx, sy = slice(round(left), size - round(left)), slice(round(top), size - round(top))
        lit = image.clone()
        lit[:, sy, sx] = lower_median(image[:, sy, sx].flatten(1))[:, None, None]
        lit[:, y0 : cy + half, x0 : cx + half] = image[:, y0 : cy + half, x0 : cx + half]
        end = drag_end(data.answers[i], width, height) if self.drag_end else None
        if end is not None:
            ex, ey = (int(v * size) for v in end)
            half = min(half, CENTRED_HALF)
            box = (slice(None), slice(max(ey - half, 0), ey + half),
                   slice(max(ex - half, 0), ex + half))  # fmt: skip
            lit[box] = image[box]
        return lit


def lower_median(values: torch.Tensor) -> torch.Tensor:
    """Each row's lower median of uint8 ``values`` (R x N), as ``values.median(dim=1)`` gives
    it, from a histogram: several times faster on a screen's 100,000 pixels."""
    below = torch.stack([torch.bincount(row, minlength=256) for row in values]).cumsum(dim=1)
    return (below <= (values.shape[1] - 1) // 2).sum(dim=1).to(torch.uint8)


@dataclass
class Grounding:
    """A second, easier task: with probability ``prob`` a pointing example is asked instead
    as "click the one element left on the screen" (`GROUND_INSTRUCTION`, no history) on its
    spotlit image (`Spotlight`, always), answered with a click on its point.

    With the real prompts (many instructions, histories of several actions) a small model
    learned the answers' text and stayed image-blind for thousands of steps, even on spotlit
    images; with one fixed prompt on the same spotlit images it read positions off the image
    within a few hundred steps. Mixed in, these examples teach the reading of positions that
    the real prompts then use. Needs a `Dataset` built with ``ground=True``."""

    prob: float
    rng: np.random.Generator

    def __call__(
        self, data: Dataset, i: int, image: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, int, torch.Tensor] | None:
        """Example ``i`` as a grounding example (ids, prompt length, pixels), or ``None``;
        ``image``: its pixels when decoded already."""
        if not data.ground_ids or data.ground_ids[i] is None or self.rng.random() >= self.prob:
            return None
        lit = Spotlight(1.0, self.rng, drag_end=False)(data, i, image)
        assert lit is not None  # the example has a point
        return data.ground_ids[i], data.ground_prompt_len, lit


def _typed(action_text: str) -> str | None:
    """The text a ``type_text`` action (SDK text) types; None for any other action."""
    try:
        action = parse_action(action_text)
    except ParseError:
        return None
    return action.text if isinstance(action, TypeText) else None


def typed_values(instruction: str, history: Sequence[str], answer: str) -> list[str]:
    """The texts typed (``type_text``) in ``answer`` or ``history`` that the instruction
    spells out as a word or words of its own, longest first, ties in alphabetical order (so a
    run draws the same letters in every process)."""
    found = {v for v in map(_typed, (answer, *history)) if v}
    spelled = (v for v in found if _as_word(v).search(instruction))
    return sorted(spelled, key=lambda v: (-len(v), v))


def copied_text(instruction: str, history: Sequence[str], answer: str) -> str | None:
    """The text ``answer`` types when the instruction spells it out (the answer copies it from
    the prompt), else None."""
    typed = _typed(answer)
    return typed if typed in typed_values(instruction, history, answer) else None


def copies(data: Dataset) -> list[int]:
    """The examples whose answer copies typed text from the instruction (`copied_text`; those a
    `CopyText` rewrite makes copy new letters): what ``--copy-batch`` drills."""
    return [i for i, step in enumerate(data.steps)
            if step is not None and copied_text(*step, data.answers[i]) is not None]  # fmt: skip


def _as_word(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(value)}(?!\w)")


def _literally(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement for ``re.sub`` that puts ``text`` as it is (no backslash escapes)."""
    return lambda _: text


def _retyped(action_text: str, value: str, new: str) -> str:
    """``action_text`` typing ``new`` if it typed ``value``, else as it is."""
    return TypeText(text=new).to_text() if _typed(action_text) == value else action_text


def scramble(value: str, rng: np.random.Generator) -> str:
    """``value`` with every letter and digit drawn anew (case and class kept: "Ann-3" may
    become "Qzv-8"); other characters stay."""
    out = []
    for ch in value:
        pool = (string.ascii_lowercase if ch.islower() else string.ascii_uppercase
                if ch.isupper() else string.digits if ch.isdigit() else None)  # fmt: skip
        out.append(ch if pool is None or not ch.isascii() else pool[int(rng.integers(len(pool)))])
    return "".join(out)


def with_new_letters(
    instruction: str, history: Sequence[str], answer: str, rng: np.random.Generator
) -> tuple[str, tuple[str, ...], str] | None:
    """The step with new letters (`scramble`) for every typed text the instruction spells out,
    wherever it occurs (instruction, previous actions, answer); None when it spells none out."""
    values = typed_values(instruction, history, answer)
    if not values:
        return None
    history = tuple(history)
    for value in values:
        new = scramble(value, rng)
        instruction = _as_word(value).sub(_literally(new), instruction)
        history = tuple(_retyped(h, value, new) for h in history)
        answer = _retyped(answer, value, new)
    return instruction, history, answer


@dataclass
class CopyText:
    """With probability ``prob`` an example whose typed text the instruction spells out
    ("Enter \"Agustina\" into the text field") gets new letters for that text everywhere it
    occurs: the instruction, the previous actions and the answer (`scramble`), so the answer
    must copy it from the prompt.

    Trained on the data as it is, the small model typed names it had learnt (``Enter
    \"Agustina\"...`` was answered ``type_text("Thaddeusmio")``): a few thousand typing
    examples teach the data's names, not copying, and every MiniWoB++ typing task failed. The
    rewritten prompt is tokenised anew (``tokenizer``, the image's tokens as `encode_example`
    splices them); the image is left as it is."""

    prob: float
    rng: np.random.Generator
    tokenizer: PreTrainedTokenizerFast
    image_id: int
    image_tokens: int

    def __call__(self, data: Dataset, i: int) -> tuple[torch.Tensor, int] | None:
        """Example ``i`` with new typed text (ids, prompt length), or ``None`` (as it is)."""
        step = data.steps[i] if data.steps else None
        if step is None or self.rng.random() >= self.prob:
            return None
        renamed = with_new_letters(*step, data.answers[i], self.rng)
        if renamed is None:
            return None
        instruction, history, answer = renamed
        seq, n = encode_example(self.tokenizer, step_prompt(instruction, history), answer,
                                self.image_id, self.image_tokens)  # fmt: skip
        return torch.tensor(seq), n


# -- the loss -------------------------------------------------------------------------------------
def answer_loss(
    model: FastVlmForConditionalGeneration, batch: dict[str, torch.Tensor],
    mean: Sequence[float] = (0.0,) * 3, std: Sequence[float] = (1.0,) * 3,
    channels_last: bool = False, pointer_weight: float = 0.0, cell_words: float = 0.0,
    end_pointer_weight: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Mean cross-entropy over the answer tokens, and the fraction predicted right.

    ``pointer_weight`` adds that times `pointer_loss` (at the last prompt position, to the first
    point's image token), ``end_pointer_weight`` that times its loss for drags (at the state
    that predicts the end point's x, to the end's image token) and ``cell_words`` that times
    `cell_words_loss`: dense training signals for grounding (the model and what it saves are
    unchanged). A batch with ``features`` (the vision tower's output, computed once for a
    frozen tower) skips the tower and runs the projector on them."""
    dev = next(model.parameters()).device
    ids, mask, labels = batch["ids"].to(dev), batch["mask"].to(dev), batch["labels"].to(dev)
    image = ids == model.config.image_token_id
    if "features" in batch:
        feats = model.model.multi_modal_projector(batch["features"].to(dev, torch.float32))
    else:
        pixels = model_pixels(batch["pixels"], dev, mean, std, channels_last)
        feats = model.model.get_image_features(pixel_values=pixels).pooler_output
    embeds = model.get_input_embeddings()(torch.where(image, 0, ids))
    embeds = embeds.masked_scatter(image[..., None], feats.to(embeds.dtype))
    out = model.model.language_model(
        inputs_embeds=embeds,
        attention_mask=mask.long(),
        output_hidden_states=bool(pointer_weight or end_pointer_weight),
    )
    hidden = out.last_hidden_state
    predict = labels[:, 1:]  # the state at t predicts token t + 1
    logits = model.lm_head(hidden[:, :-1][predict]).float()
    target = ids[:, 1:][predict]
    loss = torch.nn.functional.cross_entropy(logits, target)
    lm, states = model.model.language_model, out.hidden_states
    if pointer_weight:
        first = batch["prompt_lens"].to(dev) - 1  # the state that predicts the answer's start
        loss = loss + pointer_weight * pointer_loss(
            lm, states, image, first, batch["cells"].to(dev)
        )
    if end_pointer_weight:
        loss = loss + end_pointer_weight * pointer_loss(
            lm, states, image, batch["end_queries"].to(dev), batch["end_cells"].to(dev)
        )
    if cell_words:
        loss = loss + cell_words * cell_words_loss(
            feats, model.get_input_embeddings().weight, batch["cells"].to(dev),
            batch["words"].to(dev), batch["word_weights"].to(dev),
        )  # fmt: skip
    return loss, (logits.argmax(-1) == target).float().mean()


@torch.no_grad()
def tower_features(
    model: FastVlmForConditionalGeneration, pixels: torch.Tensor,
    mean: Sequence[float] = (0.0,) * 3, std: Sequence[float] = (1.0,) * 3,
    channels_last: bool = False,
) -> torch.Tensor:  # fmt: skip
    """The vision tower's output for a batch of uint8 images (``B x tokens x C``, float16 on
    the CPU: what the projector takes), as the tower runs in its current mode; `answer_loss`
    takes them as a batch's ``features``."""
    dev = next(model.parameters()).device
    pixels = model_pixels(pixels, dev, mean, std, channels_last)
    hidden = model.model.vision_tower(pixels, return_dict=True).last_hidden_state
    return hidden.flatten(2).permute(0, 2, 1).to("cpu", torch.float16)


def model_pixels(
    pixels: torch.Tensor, device: torch.device, mean: Sequence[float] = (0.0,) * 3,
    std: Sequence[float] = (1.0,) * 3, channels_last: bool = False,
) -> torch.Tensor:  # fmt: skip
    """uint8 images (``B x 3 x S x S``) as the vision tower takes them: on ``device``, scaled to
    [0, 1] and normalised, channels_last when the tower is."""
    m = torch.tensor(mean, device=device)[:, None, None]
    s = torch.tensor(std, device=device)[:, None, None]
    out = (pixels.to(device).float() / 255 - m) / s
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


WORD_SCALE = 16.0
"""Cosine similarities times this are `cell_words_loss`'s logits (a softmax over the vocabulary
can then put nearly all its mass on one word)."""


def cell_words_loss(
    feats: torch.Tensor, embeddings: torch.Tensor, cells: torch.Tensor, words: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:  # fmt: skip
    """Teach the image features what the target is: the projected feature of the image token
    under each answer's point (``feats``: B x tokens x H, ``cells``: B, -1 for none) is scored
    against every word embedding of the LLM (cosine similarity, `WORD_SCALE`; the embeddings
    get no gradient) and trained to put its softmax on the instruction's tokens (``words``:
    B x W, -1 padded): cross-entropy against them, each weighted by ``weights`` (B x W; the
    data's inverse document frequency, so the words that tell targets apart count, not the
    phrasing every instruction of a task shares; None: all alike), averaged over the answers.

    Trained from scratch on the answers alone, the vision tower learnt where salient things
    are but not what they are: a linear probe of the target's feature told its colour on the
    GUI suite's shape task no better than chance (``benchmarks/target_probe.py``), so no
    instruction could pick it out. The instruction names the target ("the green diamond",
    "the button labelled Back"); features that lie near those words' embeddings are what the
    LLM's attention can match (measured so far: 1,500 steps at weight 0.5 left that probe at
    chance). Answers without a point count for nothing; a grounding example keeps its original
    instruction's words (its spotlit target is the same)."""
    rows = (cells >= 0).nonzero().flatten()
    if len(rows) == 0:
        return feats.sum() * 0.0
    target = torch.nn.functional.normalize(feats[rows, cells[rows]].float(), dim=-1)
    vocab = torch.nn.functional.normalize(embeddings.detach().float(), dim=-1)
    log_p = (target @ vocab.T * WORD_SCALE).log_softmax(-1)  # R x V
    bag = words[rows]
    weight = (bag >= 0).float() if weights is None else weights[rows] * (bag >= 0)
    picked = log_p.gather(1, bag.clamp(min=0))
    per_answer = -(picked * weight).sum(1) / weight.sum(1).clamp(min=1e-6)
    return per_answer.mean()


def pointer_scores(
    lm: torch.nn.Module, hidden_states: Sequence[torch.Tensor], queries: torch.Tensor,
) -> list[torch.Tensor]:  # fmt: skip
    """Attention head 0's scores (before the softmax, later positions -inf) of the state at
    position ``queries`` (per row) over every position, in every layer but the first: one
    rows x length tensor a layer. What `pointer_loss` trains and `benchmarks/pointer_probe.py`
    reads."""
    rows = torch.arange(len(queries), device=queries.device)
    length = hidden_states[0].shape[1]
    positions = torch.arange(length, device=queries.device)
    cos, sin = lm.rotary_emb(hidden_states[0], positions[None])  # 1 x L x D
    scores = []
    for index in range(1, len(lm.layers)):
        attn = lm.layers[index].self_attn
        x = lm.layers[index].input_layernorm(hidden_states[index])  # R x L x H
        d = attn.head_dim
        q = attn.q_proj(x[rows, queries])[:, :d]  # head 0: R x D
        k = attn.k_proj(x)[..., :d]  # its key/value head 0: R x L x D
        q = q * cos[0, queries] + rotate_half(q) * sin[0, queries]
        k = k * cos + rotate_half(k) * sin
        layer = torch.einsum("rd,rld->rl", q, k).float() * attn.scaling
        scores.append(layer.masked_fill(positions[None] > queries[:, None], float("-inf")))
    return scores


def pointer_loss(
    lm: torch.nn.Module, hidden_states: Sequence[torch.Tensor], image: torch.Tensor,
    queries: torch.Tensor, cells: torch.Tensor,
) -> torch.Tensor:  # fmt: skip
    """Attention supervision for grounding: in every layer but the first, attention head 0 of
    the state at position ``queries`` (per row; the last prompt position predicts the answer's
    first token) is trained to look at image token ``cells`` (cross-entropy of its attention).

    The answer's digits alone teach the match of instruction and image slowly: a model learns
    where a lone object is in a few hundred steps, and which of several objects the instruction
    names far later. This loss routes the named object's features to the answer; the model
    and what it saves are unchanged. Rows whose cell is -1 count for nothing."""
    rows = (cells >= 0).nonzero().flatten()
    if len(rows) == 0:
        return hidden_states[0].sum() * 0.0
    target = image[rows].float().argmax(-1) + cells[rows]  # first image token + cell
    states = [h[rows] for h in hidden_states[: len(lm.layers)]]  # the layers it reads
    losses = [torch.nn.functional.cross_entropy(scores, target)
              for scores in pointer_scores(lm, states, queries[rows])]  # fmt: skip
    return torch.stack(losses).mean()
