"""`--image-cache`: a run's packed model images kept on disk and read back by later starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import PIL
import pytest
import torch

import agent_sdk.train.data as train_data
from agent_sdk.errors import ConfigError
from agent_sdk.train import TrainConfig, Trainer, train
from agent_sdk.train.image_cache import ImageCache, images_key

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(data: Path, cache: Path, **changes: object) -> TrainConfig:
    base = dict(data=(str(data),), size="tiny", steps=4, batch_size=4, lr=3e-3, warmup=1,
                save_every=100, log_every=1, eval_episodes=0, image_cache=str(cache))  # fmt: skip
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


@pytest.fixture
def packs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many images each call of `pack_model_images` prepared."""
    calls: list[int] = []
    pack = train_data.pack_model_images

    def counted(images: Any, *args: Any) -> Any:
        calls.append(len(images))
        return pack(images, *args)

    monkeypatch.setattr(train_data, "pack_model_images", counted)
    return calls


def _same_data(a: Trainer, b: Trainer) -> None:
    assert torch.equal(a.data.pixels[:], b.data.pixels[:])
    assert a.data.sizes == b.data.sizes and a.data.answers == b.data.answers
    assert all(torch.equal(x, y) for x, y in zip(a.data.ids, b.data.ids, strict=True))
    assert torch.equal(a.data.cells, b.data.cells) and torch.equal(a.data.ends, b.data.ends)


def test_a_second_start_reads_the_packed_images_back(
    demos: Path, tmp_path: Path, packs: list[int]
) -> None:
    cache = tmp_path / "cache"
    first = Trainer(_config(demos, cache), tmp_path / "a")
    assert sum(packs) == len(first.data) and len(list(cache.iterdir())) == 1
    packs.clear()
    again = Trainer(_config(demos, cache), tmp_path / "b")
    assert packs == []  # no image decoded, padded or resized
    _same_data(first, again)
    plain = Trainer(_config(demos, cache, image_cache=None), tmp_path / "c")
    _same_data(first, plain)  # as without the cache


def test_another_data_cut_or_image_size_gets_its_own_file(
    demos: Path, tmp_path: Path, packs: list[int]
) -> None:
    cache = tmp_path / "cache"
    Trainer(_config(demos, cache), tmp_path / "a")
    cut = Trainer(_config(demos, cache, max_examples=5), tmp_path / "b")
    assert len(cut.data) == 5 and len(list(cache.iterdir())) == 2
    assert images_key(["h"], 5, 128, (0.0,) * 3) != images_key(["h"], 5, 256, (0.0,) * 3)
    assert images_key(["h"], 5, 128, (0.0,) * 3) != images_key(["h"], 5, 128, (0.5,) * 3)
    assert images_key(["h", "g"], 5, 128, (0.0,) * 3) != images_key(["g", "h"], 5, 128, (0.0,) * 3)


def test_the_key_follows_pillows_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = images_key(["h"], 5, 128, (0.0,) * 3)
    monkeypatch.setattr(PIL, "__version__", "0.0.0")
    assert images_key(["h"], 5, 128, (0.0,) * 3) != key


def test_an_unreadable_or_mismatched_file_is_built_anew(
    demos: Path, tmp_path: Path, packs: list[int], caplog: Any
) -> None:
    cache = tmp_path / "cache"
    first = Trainer(_config(demos, cache), tmp_path / "a")
    (written,) = cache.iterdir()
    written.write_bytes(b"not safetensors")
    packs.clear()
    with caplog.at_level("WARNING"):
        mended = Trainer(_config(demos, cache), tmp_path / "b")
    assert "unreadable" in caplog.text and sum(packs) == len(first.data)
    _same_data(first, mended)
    key = written.name.removeprefix("images-").removesuffix(".safetensors")
    store = ImageCache(cache)
    blobs, sizes = store.load(key, len(first.data)) or ([], [])
    store.save(key, blobs[:-1], sizes[:-1])  # one image short of the run
    packs.clear()
    with caplog.at_level("WARNING"):
        Trainer(_config(demos, cache), tmp_path / "c")
    assert "holds" in caplog.text and sum(packs) == len(first.data)
    assert store.load(key, len(first.data)) is not None  # written whole again


def test_a_resume_reads_them_back_and_trains_on(
    demos: Path, tmp_path: Path, packs: list[int]
) -> None:
    cache = tmp_path / "cache"
    config = _config(demos, cache, save_every=2)
    train(config, tmp_path / "run", until=2)
    packs.clear()
    record = train(config, tmp_path / "run", resume=True)
    assert packs == [] and record["steps_done"] == 4
    assert record["config"]["image_cache"] == str(cache)


def test_a_cache_path_that_is_a_file_is_refused(demos: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        Trainer(_config(demos, tmp_path / "file"), tmp_path / "a")
