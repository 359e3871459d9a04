"""Dense labels of screens: the words of what lies under each image token, and their loss.

Trained on answers alone, the small model's vision tower learnt where salient things are but
not what they are (``benchmarks/target_probe.py``: a probe of the target's feature told its
colour no better than chance), so no instruction could pick the named element out. The GUI
suite knows every element it draws, MiniWoB++ its DOM and the Fetch envs their scene
(``elements()``, as `envs.contract.Element`): each screen gives one label per image token (the
words of the elements centred there: "button", "archive"; "triangle", "pink"; "target", "red"),
a dense signal, against one answer per example. `screen_label_loss` trains the projected image
features, through a linear head that only training uses, to tell those words apart;
`screen_place_loss`, through another, to tell where inside its token a lone element's centre
lies (what pointing reads: the words say which token, not where in its 64 px).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agent_sdk.train.data import PackedImages, grid_cell, pack_model_images
from envs.errors import EnvError

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
    places: list[torch.Tensor]  # per screen: M x 3 (token, x, y): the centre of a token's lone
    # element, as fractions of that token's cell

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

    def place_targets(self, index: Sequence[int]) -> torch.Tensor:
        """``P x 4``: for screens ``index``, each lone element's (row in ``index``, token, x, y)."""
        rows = [torch.cat([torch.full((len(self.places[i]), 1), float(row)), self.places[i]], 1)
                for row, i in enumerate(index)]  # fmt: skip
        return torch.cat(rows) if rows else torch.zeros(0, 4)


def token_place(x: float, y: float, width: int, height: int, grid: int) -> tuple[int, float, float]:
    """The image token (row-major, ``grid x grid``) over screen pixel ``(x, y)`` of a
    ``width x height`` screen, padded to a square as the model sees it, and where inside that
    token's cell the pixel lies (fractions of the cell, 0-1)."""
    side = max(width, height)
    u, v = (x + (side - width) / 2) / side, (y + (side - height) / 2) / side
    token = grid_cell(u, v, grid)
    return token, _clip01(u * grid - token % grid), _clip01(v * grid - token // grid)


def _clip01(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def token_of(x: float, y: float, width: int, height: int, grid: int) -> int:
    """The image token (row-major, ``grid x grid``) over screen pixel ``(x, y)`` of a
    ``width x height`` screen, padded to a square as the model sees it."""
    return token_place(x, y, width, height, grid)[0]


def _shown(env: gym.Env, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """The observation after a reset at ``seed`` and 0 to `MAX_ORACLE_STEPS` oracle steps (a
    screen whose oracle cannot act, or whose episode ends, is taken as it stands or anew)."""
    obs, _ = env.reset(seed=seed)
    for _ in range(int(rng.integers(0, MAX_ORACLE_STEPS + 1))):
        try:
            action = env.unwrapped.oracle()
        except EnvError:  # e.g. a MiniWoB++ button wholly under another
            break
        obs, _, terminated, truncated, _ = env.step(action.to_json())
        if terminated or truncated:
            obs, _ = env.reset(seed=seed)
            break
    return obs


def _screens(
    env_ids: Sequence[str], count: int, seed: int, image_size: int, grid: int, threads: int = 1
) -> tuple[PackedImages, list[list[tuple[int, float, float, list[str]]]]]:
    """``count`` screens shared out over ``env_ids``, env by env (one at a time: a MiniWoB++ env
    holds a browser; screen ``i`` from env ``i % len`` at seed ``seed + i``): the images as the
    model sees them, packed as they come, and per screen each element's image token, place in
    it (`token_place`) and words; ``threads``: `PackedImages`'s."""
    pixels, labels = PackedImages(image_size, threads), []
    for k, env_id in enumerate(env_ids):
        env = gym.make(env_id)
        try:
            for i in range(k, count, len(env_ids)):
                image = np.asarray(_shown(env, seed + i, np.random.default_rng([seed, i]))["image"])
                pixels.extend_packed(pack_model_images([image], image_size))
                height, width = image.shape[:2]
                labels.append([(*token_place(*e.center, width, height, grid), e.words)
                               for e in env.unwrapped.elements()])  # fmt: skip
        finally:
            env.close()
    return pixels, labels


def screen_labels(
    env_ids: Sequence[str], count: int, image_size: int, tokens: int, seed: int = SCREEN_SEED,
    min_count: int = 3, max_vocab: int = 1024, threads: int = 1,
) -> ScreenLabels:  # fmt: skip
    """Render ``count`` labelled screens of ``env_ids`` (envs with ``elements()``: the GUI
    suite, MiniWoB++, the Fetch envs; deterministic by ``seed``, stored env by env); the
    vocabulary is every word seen at least ``min_count`` times, the most common first, at most
    ``max_vocab`` with `NOTHING`; ``threads`` decode a batch of screens (`PackedImages`)."""
    pixels, labels = _screens(env_ids, count, seed, image_size, math.isqrt(tokens), threads)
    counts = collections.Counter(w for screen in labels for *_, words in screen for w in words)
    kept = [w for w, n in counts.most_common(max_vocab - 1) if n >= min_count]
    vocab = [NOTHING, *kept]
    index = {w: i for i, w in enumerate(vocab)}
    pairs = [torch.tensor(sorted({(t, index[w]) for t, _, _, words in screen for w in words
                                  if w in index}), dtype=torch.long).reshape(-1, 2)
             for screen in labels]  # fmt: skip
    return ScreenLabels(pixels, pairs, vocab, tokens, [_lone_places(s) for s in labels])


def _lone_places(screen: list[tuple[int, float, float, list[str]]]) -> torch.Tensor:
    """``M x 3`` (token, x, y): the places of the elements alone in their token."""
    per_token = collections.Counter(t for t, *_ in screen)
    lone = sorted((t, x, y) for t, x, y, _ in screen if per_token[t] == 1)
    return torch.tensor(lone, dtype=torch.float32).reshape(-1, 3)


def screen_label_loss(
    feats: torch.Tensor, head: torch.nn.Module, targets: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of ``head``'s word scores of each image token (``feats``: B x tokens x H)
    against ``targets`` (`ScreenLabels.targets`), averaged over the tokens."""
    logits = head(feats.float())
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(0, 1))


def screen_place_loss(
    feats: torch.Tensor, head: torch.nn.Module, places: torch.Tensor
) -> torch.Tensor:
    """Mean absolute error (fractions of a cell) of ``head``'s guess, from the projected
    feature of each lone element's token (``feats``: B x tokens x H), of where inside that
    token the element's centre lies (``places``: `ScreenLabels.place_targets`); 0 with none."""
    if not len(places):
        return feats.sum() * 0.0
    rows, tokens = places[:, 0].long(), places[:, 1].long()
    guess = head(feats[rows, tokens].float())
    return torch.nn.functional.l1_loss(guess, places[:, 2:].to(guess))


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
    "screen_place_loss",
    "token_of",
    "token_place",
]
