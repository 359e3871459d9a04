"""Dense labels of screens: the words of what lies under each image token, and their loss.

Trained on answers alone, the small model's vision tower learnt where salient things are but
not what they are (``benchmarks/target_probe.py``: a probe of the target's feature told its
colour no better than chance), so no instruction could pick the named element out. The GUI
suite knows every element it draws and MiniWoB++ its DOM (``elements()``, as
`envs.contract.Element`): each screen gives one label per image token (the words of the
elements centred there: "button", "archive"; "triangle", "pink"), a dense signal, against one
answer per example. `screen_label_loss` trains the projected image features, through a linear
head that only training uses, to tell those words apart.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from agent_sdk.train.data import _CHUNK, PackedImages, grid_cell
from envs.errors import EnvError
from perception.preprocess import preprocess

NOTHING = "(nothing)"
"""Word 0 of every vocabulary: the label of an image token with no element centred on it."""

SCREEN_SEED = 500_000
"""First seed of the labelled screens (evaluation uses seeds from 0, `agent-sdk collect` 100000)."""

MAX_ORACLE_STEPS = 2
"""A screen is shown after 0 to this many oracle steps (menus open, boxes ticked, text typed)."""


@dataclass
class ScreenLabels:
    """Screens as the model sees them and, per screen, its ``(image token, word)`` pairs."""

    pixels: PackedImages
    pairs: list[torch.Tensor]  # per screen: K x 2 long (token index, word index)
    vocab: list[str]  # word 0 is `NOTHING`
    tokens: int  # image tokens per screen

    def __len__(self) -> int:
        return len(self.pairs)

    def targets(self, index: Sequence[int]) -> torch.Tensor:
        """``B x tokens x vocab``: each token's words, equally likely (`NOTHING` when none)."""
        out = torch.zeros(len(index), self.tokens, len(self.vocab))
        for row, i in enumerate(index):
            pairs = self.pairs[i]
            out[row, pairs[:, 0], pairs[:, 1]] = 1.0
        out[..., 0] = (out.sum(-1) == 0).float()
        return out / out.sum(-1, keepdim=True)


def token_of(x: float, y: float, width: int, height: int, grid: int) -> int:
    """The image token (row-major, ``grid x grid``) over screen pixel ``(x, y)`` of a
    ``width x height`` screen, padded to a square as the model sees it."""
    side = max(width, height)
    return grid_cell((x + (side - width) / 2) / side, (y + (side - height) / 2) / side, grid)


def _screens(
    env_ids: Sequence[str], count: int, seed: int
) -> list[tuple[np.ndarray, list[tuple[float, float, list[str]]]]]:
    """``count`` screens shared out over ``env_ids`` (screen ``i`` from env ``i % len``, made
    one at a time: a MiniWoB++ env holds a browser): each image, its elements' centres and
    words."""
    out: dict[int, tuple[np.ndarray, list[tuple[float, float, list[str]]]]] = {}
    for k, env_id in enumerate(env_ids):
        env = gym.make(env_id)
        try:
            for i in range(k, count, len(env_ids)):
                rng = np.random.default_rng([seed, i])
                obs, _ = env.reset(seed=seed + i)
                for _ in range(int(rng.integers(0, MAX_ORACLE_STEPS + 1))):
                    try:
                        action = env.unwrapped.oracle()
                    except EnvError:  # e.g. a MiniWoB++ button wholly under another: as it is
                        break
                    obs, _, terminated, truncated, _ = env.step(action.to_json())
                    if terminated or truncated:
                        obs, _ = env.reset(seed=seed + i)
                        break
                elements = [(*e.center, e.words) for e in env.unwrapped.elements()]
                out[i] = (np.asarray(obs["image"]), elements)
        finally:
            env.close()
    return [out[i] for i in range(count)]


def screen_labels(
    env_ids: Sequence[str], count: int, image_size: int, tokens: int, seed: int = SCREEN_SEED,
    min_count: int = 3, max_vocab: int = 1024,
) -> ScreenLabels:  # fmt: skip
    """Render ``count`` labelled screens of ``env_ids`` (envs with ``elements()``: the GUI
    suite, MiniWoB++; deterministic by ``seed``); the vocabulary is every word seen at least
    ``min_count`` times, the most common first, at most ``max_vocab`` with `NOTHING`."""
    screens = _screens(env_ids, count, seed)
    counts = collections.Counter(w for _, els in screens for *_, words in els for w in words)
    kept = [w for w, n in counts.most_common(max_vocab - 1) if n >= min_count]
    vocab = [NOTHING, *kept]
    index = {w: i for i, w in enumerate(vocab)}
    grid = math.isqrt(tokens)
    pixels, pairs = PackedImages(image_size), []
    for start in range(0, len(screens), _CHUNK):
        chunk = screens[start : start + _CHUNK]
        raw = preprocess([image for image, _ in chunk], image_size)  # [0, 1]
        for image in np.rint(raw * 255).astype(np.uint8):
            pixels.append(image)
        for image, elements in chunk:
            height, width = image.shape[:2]
            found = {(token_of(x, y, width, height, grid), index[w])
                     for x, y, words in elements for w in words if w in index}  # fmt: skip
            pairs.append(torch.tensor(sorted(found), dtype=torch.long).reshape(-1, 2))
    return ScreenLabels(pixels, pairs, vocab, tokens)


def screen_label_loss(
    feats: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of ``head``'s word scores of each image token (``feats``: B x tokens x H)
    against ``targets`` (`ScreenLabels.targets`), averaged over the tokens."""
    logits = head(feats.float())
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(0, 1))


def label_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The fraction of image tokens with an element whose top-scored word is one of theirs."""
    busy = targets[..., 0] == 0
    top = logits.argmax(-1, keepdim=True)
    hit = targets.gather(-1, top).squeeze(-1) > 0
    return float(hit[busy].float().mean()) if busy.any() else float("nan")


__all__ = [
    "NOTHING",
    "SCREEN_SEED",
    "ScreenLabels",
    "label_accuracy",
    "screen_label_loss",
    "screen_labels",
    "token_of",
]
