"""MLX and PyTorch give the same answers on the same checkpoint.

One tiny checkpoint per layout (hf with a tied head, apple with its own ``lm_head``) is
converted to MLX with our converter and run through both backends on the same images and
prompts. Required: the same greedy tokens, and projected image features equal within
``FEATURE_RTOL`` of their scale, i.e. ``max|mlx - torch| <= 1e-5 * max|torch|`` in float32
(measured: about 5e-7; the backends differ only in convolution and reduction order).
"""

from __future__ import annotations

import numpy as np
import pytest
from needs import need
from screens import screen

from perception.base import load_vlm
from perception.checkpoints import convert_checkpoint
from perception.mlx_convert import mlx_missing
from perception.tiny import save_tiny_checkpoint

FEATURE_RTOL = 1e-5  # max abs difference over max abs value of the torch features (float32)
PROMPTS = ("Describe the screen.", "Where is the OK button? Answer with click(x, y).")
LAYOUTS = [("hf", True), ("apple", False)]


IMAGES = (screen(0, (320, 240)), screen(1, (160, 210)))


@pytest.fixture(
    scope="module", params=LAYOUTS, ids=lambda p: f"{p[0]}-{'tied' if p[1] else 'untied'}"
)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    need(mlx_missing())
    layout, tied = request.param
    root = tmp_path_factory.mktemp(layout)
    src = save_tiny_checkpoint(root / layout, layout, seed=2, tie_word_embeddings=tied)
    mlx_dir = convert_checkpoint(src, root / "mlx", to="mlx")
    torch_vlm = load_vlm(src, backend="torch", device="cpu", dtype="float32")
    mlx_vlm = load_vlm(mlx_dir, backend="mlx")
    assert (torch_vlm.backend, mlx_vlm.backend) == ("torch", "mlx")
    return torch_vlm, mlx_vlm


def test_image_features_agree(pair: tuple) -> None:
    from perception import mlx_backend, torch_backend

    torch_vlm, mlx_vlm = pair
    want = torch_backend.image_features(torch_vlm, IMAGES)
    got = mlx_backend.image_features(mlx_vlm, IMAGES)
    assert got.shape == want.shape == (2, mlx_vlm.num_image_tokens, 64)
    scale = np.abs(want).max()
    assert scale > 0
    assert np.abs(got - want).max() <= FEATURE_RTOL * scale


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_tokens_agree(pair: tuple, prompt: str) -> None:
    torch_vlm, mlx_vlm = pair
    for image in IMAGES:
        want = torch_vlm.generate(image, prompt, max_new_tokens=24)
        got = mlx_vlm.generate(image, prompt, max_new_tokens=24)
        assert got.token_ids == want.token_ids
        assert (got.text, got.finish_reason) == (want.text, want.finish_reason)
        assert got.timings.num_prompt_tokens == want.timings.num_prompt_tokens


def test_batched_greedy_tokens_agree(pair: tuple) -> None:
    torch_vlm, mlx_vlm = pair
    want = torch_vlm.generate(list(IMAGES), list(PROMPTS), max_new_tokens=12)
    got = mlx_vlm.generate(list(IMAGES), list(PROMPTS), max_new_tokens=12)
    assert [g.token_ids for g in got] == [g.token_ids for g in want]
