"""`agent-sdk train --image-size PX`: a model trained, or fine-tuned, at another input size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from agent_sdk.collect import read_examples
from agent_sdk.errors import ConfigError
from agent_sdk.train import TrainConfig, Trainer, train
from perception import load_vlm

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(data: Path, **changes: object) -> TrainConfig:
    base = dict(data=(str(data),), size="tiny", steps=2, batch_size=4, lr=3e-3, warmup=1,
                save_every=100, log_every=1, eval_episodes=0)  # fmt: skip
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_a_new_model_trains_and_loads_at_the_size_given(demos: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(demos, image_size=192), tmp_path / "ck")
    assert trainer.data.pixels[:2].shape[-3:] == (3, 192, 192) and trainer.image_tokens == 9
    train(_config(demos, image_size=192), tmp_path / "run")
    vlm = load_vlm(tmp_path / "run", device="cpu")
    assert (vlm.image_size, vlm.num_image_tokens) == (192, 9)
    example = next(iter(read_examples(demos)))
    assert (
        vlm.generate(example.image, example.prompt, max_new_tokens=3).timings.num_image_tokens == 9
    )


def test_a_checkpoint_is_fine_tuned_at_a_higher_resolution(demos: Path, tmp_path: Path) -> None:
    train(_config(demos), tmp_path / "base")  # the tiny size's 128 px, 4 tokens
    trainer = Trainer(_config(demos, init=str(tmp_path / "base"), image_size=256), tmp_path / "up")
    base = load_file(tmp_path / "base" / "model.safetensors")
    mine = trainer.model.state_dict()
    assert all(torch.equal(mine[k], v) for k, v in base.items())  # the same weights, 16 tokens
    assert trainer.image_tokens == 16 and trainer.data.pixels[:1].shape[-1] == 256
    trainer.train_step()
    trainer.save()
    vlm = load_vlm(tmp_path / "up", device="cpu")
    assert (vlm.image_size, vlm.num_image_tokens) == (256, 16)
    assert load_vlm(tmp_path / "base", device="cpu").image_size == 128  # the base as it was


def test_a_resume_at_another_size_is_refused(demos: Path, tmp_path: Path) -> None:
    train(_config(demos, image_size=192, save_every=1), tmp_path / "run", until=1)
    with pytest.raises(ConfigError, match="a new tiny model at 192 px, not a new tiny model") as e:
        train(_config(demos), tmp_path / "run", resume=True)
    assert "--image-size" in str(e.value)
    assert train(_config(demos, image_size=192), tmp_path / "run", resume=True)["steps_done"] == 2


@pytest.mark.parametrize("size", [0, 100, 32])
def test_a_size_off_the_token_grid_is_refused(demos: Path, size: int) -> None:
    with pytest.raises(ConfigError, match="a multiple of 64"):
        _config(demos, image_size=size)
