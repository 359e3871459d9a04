"""`--data-threads N`: worker processes read and pack the data folders' images at the start."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

import agent_sdk.train.loop as loop
from agent_sdk.collect import MANIFEST, read_examples
from agent_sdk.errors import ConfigError
from agent_sdk.train import TrainConfig, Trainer
from agent_sdk.train.data import pack_model_images
from agent_sdk.train.packing import pack_folders

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MEAN = (0.5, 0.25, 0.0)


def _config(data: Path, **changes: object) -> TrainConfig:
    base = dict(data=(str(data),), size="tiny", steps=2, batch_size=4, save_every=100,
                eval_episodes=0)  # fmt: skip
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_workers_pack_every_image_in_order_as_one_thread_does(demos: Path) -> None:
    images = [ex.image for ex in read_examples(demos)]
    expected = pack_model_images(images, 64, MEAN)
    rng = torch.get_rng_state()
    blobs, sizes = pack_folders([demos, demos], 64, MEAN, workers=2)
    assert torch.equal(torch.get_rng_state(), rng)  # a run's draws stay as with one thread
    assert len(blobs) == 2 * len(images) > 8  # several shards of 4, two folders
    assert all((a == b).all() for a, b in zip(blobs, expected * 2, strict=True))
    assert sizes == [(im.shape[1], im.shape[0]) for im in images] * 2
    cut, cut_sizes = pack_folders([demos], 64, MEAN, workers=2, limit=6)  # across a shard
    assert len(cut) == len(cut_sizes) == 6 and all(
        (a == b).all() for a, b in zip(cut, expected[:6], strict=True)
    )


def test_a_trainer_with_data_processes_holds_the_same_data(
    demos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["limit"])
        return pack_folders(*args, **kwargs)

    monkeypatch.setattr(loop, "pack_folders", counted)
    one = Trainer(_config(demos, max_examples=7), tmp_path / "one")
    assert calls == []
    two = Trainer(_config(demos, max_examples=7, data_threads=2), tmp_path / "two")
    assert calls == [7] and len(one.data) == len(two.data) == 7
    assert torch.equal(one.data.pixels[:], two.data.pixels[:])
    assert one.data.sizes == two.data.sizes and one.data.answers == two.data.answers
    assert all(torch.equal(a, b) for a, b in zip(one.data.ids, two.data.ids, strict=True))


def test_a_damaged_shard_is_named_from_the_worker(demos: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(demos, tmp_path / "data")
    shard = json.loads((copy / MANIFEST).read_text())["shards"][1]["name"]
    (copy / shard).write_bytes((copy / shard).read_bytes()[:-100])
    with pytest.raises(ConfigError, match=f"{shard} does not match its manifest entry"):
        pack_folders([copy], 64, MEAN, workers=2)
