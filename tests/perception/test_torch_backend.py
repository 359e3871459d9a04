"""The PyTorch backend on tiny checkpoints built with the same code path as real ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from perception.base import Generation, VisionLanguageModel, load_vlm, select_backend
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


def screen(seed: int = 0, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


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


def test_generation_is_typed_timed_and_sums_up(vlm: TorchVLM) -> None:
    assert isinstance(vlm, VisionLanguageModel)
    gen = vlm.generate(screen(), "Describe the screen.", max_new_tokens=12)
    assert isinstance(gen, Generation)
    assert gen.finish_reason in ("stop", "length")
    assert len(gen.token_ids) <= 12
    assert gen.text == vlm.tokenizer.decode(gen.token_ids, skip_special_tokens=True).strip()
    t = gen.timings
    assert t.num_image_tokens == vlm.num_image_tokens == (vlm.image_size // 64) ** 2
    assert t.num_prompt_tokens > t.num_image_tokens
    assert min(t.vision_encode_s, t.prefill_s, t.ttft_s) > 0
    assert t.ttft_s == pytest.approx(t.vision_encode_s + t.prefill_s, rel=0.05)
    assert t.num_generated_tokens == len(gen.token_ids)


def test_greedy_decoding_is_deterministic_and_image_dependent(vlm: TorchVLM) -> None:
    a = vlm.generate(screen(0), "What is here?", max_new_tokens=8).token_ids
    assert vlm.generate(screen(0), "What is here?", max_new_tokens=8).token_ids == a
    feats0 = image_features(vlm, [screen(0)])
    feats1 = image_features(vlm, [screen(1)])
    assert feats0.shape == (1, vlm.num_image_tokens, vlm.model.config.text_config.hidden_size)
    assert not np.allclose(feats0, feats1)


def test_sampling_is_reproducible_with_a_seed(vlm: TorchVLM) -> None:
    kw = {"max_new_tokens": 8, "temperature": 1.0, "seed": 3}
    assert (
        vlm.generate(screen(), "Hi", **kw).token_ids == vlm.generate(screen(), "Hi", **kw).token_ids
    )


def test_image_inputs_of_every_kind_agree(vlm: TorchVLM, tmp_path: Path) -> None:
    arr = screen(2)
    path = tmp_path / "shot.png"
    Image.fromarray(arr).save(path)
    ids = [
        vlm.generate(img, "Q", max_new_tokens=5).token_ids
        for img in (arr, Image.fromarray(arr), path)
    ]
    assert ids[0] == ids[1] == ids[2]


def test_batched_generation_matches_one_by_one(vlm: TorchVLM) -> None:
    prompts = ["Short?", "A much longer question about the screen and its buttons?"]
    images = [screen(4), screen(5, (160, 210))]
    batched = vlm.generate(images, prompts, max_new_tokens=6)
    single = [vlm.generate(i, p, max_new_tokens=6) for i, p in zip(images, prompts, strict=True)]
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]


def test_stream_yields_the_same_text_as_generate(vlm: TorchVLM) -> None:
    pieces = list(vlm.stream(screen(6), "Tell me", max_new_tokens=10))
    full = vlm.generate(screen(6), "Tell me", max_new_tokens=10)
    assert "".join(pieces).strip() == full.text
    assert vlm.last_generation is not None and vlm.last_generation.token_ids == full.token_ids


def test_bad_calls_give_clear_errors(vlm: TorchVLM) -> None:
    with pytest.raises(PerceptionError, match="H x W x 3 uint8"):
        vlm.generate(np.zeros((4, 4)), "x")
    with pytest.raises(PerceptionError, match="max_new_tokens"):
        vlm.generate(screen(), "x", max_new_tokens=0)
    with pytest.raises(PerceptionError, match="same"):
        vlm.generate([screen()], ["a", "b"])
    with pytest.raises(PerceptionError, match="cannot read image"):
        vlm.generate("/nonexistent/shot.png", "x")
    with pytest.raises(PerceptionError, match="dtype"):
        load_vlm("/nonexistent", backend="torch", dtype="int8")


def test_backend_selection(tiny_dir: Path) -> None:
    assert select_backend(tiny_dir) == "torch"
    assert select_backend(tiny_dir, "mlx") == "mlx"  # MLX itself: tests/perception/test_mlx_*.py
    with pytest.raises(PerceptionError, match="unknown backend"):
        select_backend(tiny_dir, "jax")  # type: ignore[arg-type]
