"""The PyTorch backend on tiny checkpoints built with the same code path as real ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from screens import screen

from perception.base import load_vlm, select_backend
from perception.errors import PerceptionError
from perception.preprocess import pad_to_square, preprocess
from perception.prompts import chat_prompt, split_on_image
from perception.tiny import save_tiny_checkpoint
from perception.torch_backend import TorchVLM, image_features


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "hf", layout="hf", seed=0)


@pytest.fixture(scope="module")
def vlm(tiny_dir: Path) -> TorchVLM:
    model = load_vlm(tiny_dir, device="cpu")
    assert isinstance(model, TorchVLM)
    return model


def test_prompt_follows_the_qwen2_template() -> None:
    prompt = chat_prompt("What is shown?")
    assert prompt == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<image>\nWhat is shown?<|im_end|>\n<|im_start|>assistant\n"
    )
    before, after = split_on_image(prompt)
    assert before.endswith("user\n") and after.startswith("\nWhat is shown?")
    with pytest.raises(ValueError, match="must not contain"):
        chat_prompt("<image> twice")


def test_preprocessing_pads_with_black_and_resizes_bicubically() -> None:
    wide = Image.fromarray(np.full((100, 200, 3), 255, np.uint8))
    square = pad_to_square(wide)
    assert square.size == (200, 200)
    arr = np.asarray(square)
    assert arr[:50].max() == 0 and arr[150:].max() == 0 and arr[50:150].min() == 255
    pixels = preprocess([np.asarray(wide)], 64)
    assert pixels.shape == (1, 3, 64, 64) and pixels.dtype == np.float32
    assert pixels[0, :, 0].max() == 0.0 and pixels[0, :, 32].min() == pytest.approx(1.0)
    expected = np.asarray(square.resize((64, 64), Image.Resampling.BICUBIC), np.float32) / 255
    np.testing.assert_allclose(pixels[0].transpose(1, 2, 0), expected)


def test_greedy_decoding_is_deterministic_and_image_dependent(vlm: TorchVLM) -> None:
    a = vlm.generate(screen(0), "What is here?", max_new_tokens=8).token_ids
    assert vlm.generate(screen(0), "What is here?", max_new_tokens=8).token_ids == a
    feats0 = image_features(vlm, [screen(0)])
    feats1 = image_features(vlm, [screen(1)])
    assert feats0.shape == (1, vlm.num_image_tokens, vlm.model.config.text_config.hidden_size)
    assert not np.allclose(feats0, feats1)


def test_image_inputs_of_every_kind_agree(vlm: TorchVLM, tmp_path: Path) -> None:
    arr = screen(2)
    path = tmp_path / "shot.png"
    Image.fromarray(arr).save(path)
    ids = [
        vlm.generate(img, "Q", max_new_tokens=5).token_ids
        for img in (arr, Image.fromarray(arr), path)
    ]
    assert ids[0] == ids[1] == ids[2]


def test_unknown_dtype_is_refused() -> None:
    with pytest.raises(PerceptionError, match="dtype"):
        load_vlm("/nonexistent", backend="torch", dtype="int8")


def test_backend_selection(tiny_dir: Path) -> None:
    assert select_backend(tiny_dir) == "torch"
    assert select_backend(tiny_dir, "mlx") == "mlx"  # MLX itself: tests/perception/test_mlx_*.py
    with pytest.raises(PerceptionError, match="unknown backend"):
        select_backend(tiny_dir, "jax")  # type: ignore[arg-type]
