"""The MLX backend on a tiny checkpoint (MLX's CPU backend on Linux): conversion, the interface,
backend choice by platform and importability, and the error when the extra is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from needs import need
from screens import screen
from typer.testing import CliRunner

from perception.base import VisionLanguageModel, load_vlm, select_backend
from perception.checkpoints import CheckpointFormat, convert_checkpoint, detect_format
from perception.errors import BackendUnavailable, CheckpointError, PerceptionError
from perception.mlx_convert import mlx_missing
from perception.tiny import save_tiny_checkpoint

MLX_EXTRA = 'pip install "fastvlm-agent-sdk[mlx]"'


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny hf folder and its MLX conversion."""
    need(mlx_missing())
    root = tmp_path_factory.mktemp("mlx")
    hf = save_tiny_checkpoint(root / "hf", "hf", seed=1)
    return {"hf": hf, "mlx": convert_checkpoint(hf, root / "mlx", to="mlx")}


@pytest.fixture(scope="module")
def vlm(folders: dict[str, Path]) -> VisionLanguageModel:
    return load_vlm(folders["mlx"])


@pytest.fixture
def no_mlx(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import mlx.core`` fail as it does where the extra is not installed."""
    for name in ("mlx", "mlx.core"):
        monkeypatch.setitem(sys.modules, name, None)


def on(monkeypatch: pytest.MonkeyPatch, system: str, machine: str) -> None:
    monkeypatch.setattr("platform.system", lambda: system)
    monkeypatch.setattr("platform.machine", lambda: machine)


# -- conversion --------------------------------------------------------------------------------


def test_converted_folder_is_an_mlx_vlm_folder(folders: dict[str, Path]) -> None:
    import mlx.core as mx

    out = folders["mlx"]
    assert detect_format(out) is CheckpointFormat.MLX
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llava_qwen2" and "text_config" not in config
    assert config["mm_vision_model_args"]["layers"] == [1, 1, 1, 1, 1]
    for name in ("tokenizer.json", "preprocessor_config.json", "model.safetensors.index.json"):
        assert (out / name).is_file(), name
    weights = mx.load(str(out / "model.safetensors"))
    assert all(k.startswith(("language_model.", "vision_tower.", "mm_projector.")) for k in weights)
    stem = weights["vision_tower.vision_model.patch_embed.blocks.0.reparam_conv.weight"]
    assert stem.shape == (8, 3, 3, 3) and stem.dtype == mx.float32  # channels-last, dtype kept
    assert "language_model.lm_head.weight" not in weights  # tied


def test_conversion_refuses_what_it_cannot_do(folders: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="already in mlx"):
        convert_checkpoint(folders["mlx"], tmp_path / "again", to="mlx")
    with pytest.raises(CheckpointError, match="not empty"):
        convert_checkpoint(folders["hf"], folders["mlx"], to="mlx")
    with pytest.raises(CheckpointError, match="backend='mlx'"):
        load_vlm(folders["mlx"], backend="torch")


def test_cli_converts_to_mlx(folders: dict[str, Path], tmp_path: Path) -> None:
    from agent_sdk.cli import app

    dst = tmp_path / "cli-mlx"
    result = CliRunner().invoke(app, ["convert", str(folders["hf"]), str(dst), "--to", "mlx"])
    assert result.exit_code == 0, result.output
    assert detect_format(dst) is CheckpointFormat.MLX
    a = (folders["mlx"] / "model.safetensors").read_bytes()
    assert (dst / "model.safetensors").read_bytes() == a  # conversion is deterministic


def test_missing_or_misshapen_weights_are_named(folders: dict[str, Path], tmp_path: Path) -> None:
    import mlx.core as mx

    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folders["mlx"].iterdir():
        if f.suffix != ".safetensors" and not f.name.endswith("index.json"):
            (broken / f.name).write_bytes(f.read_bytes())
    weights = mx.load(str(folders["mlx"] / "model.safetensors"))
    del weights["mm_projector.2.bias"]
    weights["mm_projector.0.weight"] = mx.zeros((3, 3))
    mx.save_safetensors(str(broken / "model.safetensors"), weights)
    with pytest.raises(CheckpointError, match=r"do not fit its config\.json"):
        load_vlm(broken)


def test_bfloat16_conversion_loads_and_answers(
    folders: dict[str, Path], vlm: VisionLanguageModel, tmp_path: Path
) -> None:
    from perception.mlx_backend import image_features
    from perception.mlx_convert import convert_to_mlx

    out = convert_to_mlx(folders["hf"], tmp_path / "bf16", dtype="bfloat16")
    half = load_vlm(out)
    assert half.dtype == "bfloat16"
    want, got = (image_features(m, [screen()]) for m in (vlm, half))  # type: ignore[arg-type]
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()  # bf16 keeps ~3 digits
    gen = half.generate(screen(), "Hi", max_new_tokens=4)
    assert gen.finish_reason == "stop" or len(gen.token_ids) == 4


def test_quantized_mlx_folders_load(
    folders: dict[str, Path], vlm: VisionLanguageModel, tmp_path: Path
) -> None:
    """An mlx-community style folder: the language model quantized to 8 bits (embedding too)."""
    import mlx.nn as nn
    from mlx_vlm.utils import save_config, save_weights

    from perception.mlx_convert import load_fastvlm_mlx

    model, config, _ = load_fastvlm_mlx(folders["mlx"])
    nn.quantize(model.language_model, group_size=64, bits=8)
    out = tmp_path / "q8"
    save_weights(out, model)
    config.pop("text_config")
    save_config({**config, "quantization": {"group_size": 64, "bits": 8}}, out / "config.json")
    for f in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        (out / f).write_bytes((folders["mlx"] / f).read_bytes())
    q8 = load_vlm(out)
    assert type(q8.embed).__name__ == "QuantizedEmbedding" and q8.dtype == "float32"
    want = vlm.generate(screen(9), "Hi", max_new_tokens=12).token_ids
    got = q8.generate(screen(9), "Hi", max_new_tokens=12).token_ids
    assert got[:4] == want[:4]  # 8-bit rounding may flip a later near-tie of the random model


def test_mlx_vlm_loads_the_converted_folder_and_agrees(
    folders: dict[str, Path], vlm: VisionLanguageModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlx-vlm's own loader and forward pass (its splice at the -200 image token) give the
    logits our loop gives. Its FastViTHD widths are fixed in code: set the tiny ones."""
    import mlx.core as mx
    from mlx_vlm.models.fastvlm import VisionConfig
    from mlx_vlm.utils import load_model

    from perception.prompts import chat_prompt, split_on_image

    monkeypatch.setattr(VisionConfig, "layers", [1, 1, 1, 1, 1])
    monkeypatch.setattr(VisionConfig, "embed_dims", [8, 16, 32, 64, 128])
    theirs = load_model(folders["mlx"])
    before, after = split_on_image(chat_prompt("What is on screen?"))
    ids = [*vlm._tokens(before), -200, *vlm._tokens(after)]
    pixels = mx.array(vlm._pixels([screen(3)]))
    their_logits = theirs(mx.array([ids]), pixels, mask=None).logits[0, -1]

    embeds, _ = vlm._splice([(before, after)], vlm.encode_images(pixels))
    our_logits = vlm._logits(vlm.lm.model(None, input_embeddings=embeds))[0]
    np.testing.assert_allclose(np.array(our_logits), np.array(their_logits), atol=1e-5)


# -- loading options (generate and stream: test_generation.py) ------------------------------


def test_loading_options_are_checked(folders: dict[str, Path]) -> None:
    with pytest.raises(PerceptionError, match="unknown MLX device"):
        load_vlm(folders["mlx"], device="cuda")
    with pytest.raises(PerceptionError, match="dtype"):
        load_vlm(folders["mlx"], dtype="int8")


# -- choosing the backend ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "machine", "mlx_installed", "expected"),
    [
        ("Darwin", "arm64", True, "mlx"),  # Apple silicon with the extra
        ("Darwin", "arm64", False, "torch"),  # Apple silicon without it
        ("Darwin", "x86_64", True, "torch"),  # an Intel Mac: no MLX
        ("Linux", "x86_64", True, "torch"),  # MLX's CPU backend is no default anywhere else
        ("Linux", "aarch64", True, "torch"),
    ],
)
def test_auto_picks_mlx_only_on_apple_silicon_with_mlx(
    folders: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    system: str,
    machine: str,
    mlx_installed: bool,
    expected: str,
) -> None:
    on(monkeypatch, system, machine)
    if not mlx_installed:
        for name in ("mlx", "mlx.core"):
            monkeypatch.setitem(sys.modules, name, None)
    assert select_backend(folders["hf"]) == expected
    assert select_backend(folders["hf"], "torch") == "torch"
    assert select_backend(folders["hf"], "mlx") == "mlx"


def test_auto_on_apple_silicon_loads_hf_folders_with_mlx(
    folders: dict[str, Path], vlm: VisionLanguageModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    on(monkeypatch, "Darwin", "arm64")
    in_memory = load_vlm(folders["hf"])
    assert in_memory.backend == "mlx" and in_memory.model_hash != vlm.model_hash
    ids = vlm.generate(screen(7), "Where?", max_new_tokens=8).token_ids
    assert in_memory.generate(screen(7), "Where?", max_new_tokens=8).token_ids == ids
    assert load_vlm(folders["hf"], backend="torch", device="cpu").backend == "torch"


def test_mlx_folders_load_with_mlx_on_linux(
    folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    on(monkeypatch, "Linux", "x86_64")
    assert select_backend(folders["mlx"]) == "mlx"
    assert load_vlm(folders["mlx"]).backend == "mlx"


def test_missing_extra_names_the_install_command(
    folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch, no_mlx: None
) -> None:
    on(monkeypatch, "Darwin", "arm64")
    assert mlx_missing() is not None and MLX_EXTRA in mlx_missing()  # type: ignore[operator]
    with pytest.raises(BackendUnavailable, match=r"fastvlm-agent-sdk\[mlx\]"):
        load_vlm(folders["hf"], backend="mlx")
    with pytest.raises(BackendUnavailable, match=r"mlx-vlm folder.*fastvlm-agent-sdk\[mlx\]"):
        load_vlm(folders["mlx"])
    with pytest.raises(BackendUnavailable, match=r"fastvlm-agent-sdk\[mlx\]"):
        convert_checkpoint(folders["hf"], folders["hf"].parent / "nope", to="mlx")


def test_missing_mlx_vlm_alone_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlx_vlm", None)
    missing = mlx_missing()
    assert missing is not None and "mlx-vlm" in missing and MLX_EXTRA in missing


# -- living with the robot helper's OpenCV -----------------------------------------------------


@pytest.fixture
def cv2() -> Iterator[Any]:
    try:
        import cv2
    except ImportError as e:
        need(f"cv2 does not import ({e}): pip install -e '.[robot]'")
    yield cv2


def test_cv2_works_beside_mlx_vlm_and_torch(vlm: VisionLanguageModel, cv2: Any) -> None:
    """mlx-vlm pulls opencv-python; the robot helper's cv2 must still work in one process,
    whichever is imported first."""
    import mlx_vlm  # noqa: F401
    import torch  # noqa: F401

    image = screen(8)
    assert cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).shape == image.shape[:2]
    ok, png = cv2.imencode(".png", image)
    assert ok and np.array_equal(cv2.imdecode(png, cv2.IMREAD_COLOR), image)
    assert vlm.generate(image, "Hi", max_new_tokens=2).token_ids
    code = (
        "import cv2, numpy as np, torch, mlx_vlm.models.fastvlm, mlx.core as mx;"
        "a = np.zeros((8, 8, 3), np.uint8); a[2:4] = 255;"
        "assert cv2.resize(a, (4, 4)).shape == (4, 4, 3);"
        "assert cv2.GaussianBlur(a, (3, 3), 0).sum() > 0;"
        "print(float(mx.array([1.0, 2.0]).sum()))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "3.0", run.stderr
