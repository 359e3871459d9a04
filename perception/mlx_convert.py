"""FastVLM checkpoints as mlx-vlm models: load any folder into MLX, write MLX folders.

mlx-vlm's ``fastvlm`` package (``model_type: llava_qwen2``) holds a pure-MLX FastViTHD, the
projector and Qwen2. Its weights use Apple's names under ``vision_tower.vision_model.``,
``mm_projector.`` and ``language_model.``, with convolutions channels-last. Every folder goes
through the same path: hf names are first mapped to Apple's (`hf_to_apple_key`), then mlx-vlm's
own ``sanitize`` methods rename and transpose (they leave MLX folders unchanged), then its
loader checks every name and shape (strict) and applies quantization if the folder has any.

mlx-vlm fixes FastViTHD's depth and widths in code; folders of other sizes (our tiny test models)
carry timm's kwargs in ``mm_vision_model_args``, which `build_model` applies. A folder written
here is Apple's ``llava_qwen2`` config.json plus ``vision_config``, MLX weights
(``model.safetensors`` and its index), the tokenizer and ``preprocessor_config.json``: mlx-vlm's
``load`` reads it as well (at full size).

Only mlx, mlx-vlm and transformers' config classes are needed, not torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perception.checkpoints import (
    VISION_ARGS_KEY,
    CheckpointFormat,
    LoadInfo,
    PathLike,
    _apple_image_size,
    _folder,
    _hf_config,
    _image_settings,
    _prepare_dst,
    _preprocessor_config,
    _read_config,
    _weight_files,
    checkpoint_hash,
    detect_format,
    hf_config_to_apple,
    hf_to_apple_key,
)
from perception.errors import BackendUnavailable, CheckpointError

if TYPE_CHECKING:
    import mlx.core as mx
    import mlx.nn as nn

log = logging.getLogger(__name__)

MLX_EXTRA = 'pip install "fastvlm-agent-sdk[mlx]"'
VISION_REDUCTION = 64  # FastViTHD: a stride-4 stem, then four stride-2 downsamples
_HEAD = "model.vision_tower.vision_tower.model.head.proj"  # CLIP head: stored, never used
_VISION_ARCH_KEYS = ("layers", "embed_dims", "mlp_ratios")  # timm kwargs mlx-vlm can take
_COPIED = (  # files besides config and weights that a converted folder keeps
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "merges.txt", "chat_template.jinja", "chat_template.json",
    "generation_config.json", "preprocessor_config.json", "processor_config.json",
)  # fmt: skip
DTYPES = ("float32", "bfloat16", "float16")


def mlx_missing() -> str | None:
    """Why the MLX backend cannot run here (with the command that fixes it), or ``None``."""
    try:
        importlib.import_module("mlx.core")
    except ImportError as e:
        return f"MLX is not importable ({e}): {MLX_EXTRA}"
    if importlib.util.find_spec("mlx_vlm") is None:
        return f"mlx-vlm is not installed: {MLX_EXTRA}"
    return None


def require_mlx() -> None:
    """Raise :class:`BackendUnavailable` naming the extra when MLX or mlx-vlm is missing."""
    missing = mlx_missing()
    if missing:
        raise BackendUnavailable(f"the MLX backend needs mlx and mlx-vlm; {missing}")


def _fastvlm() -> Any:
    require_mlx()
    return importlib.import_module("mlx_vlm.models.fastvlm")


def mlx_dtype(name: str) -> mx.Dtype | None:
    """The MLX dtype for ``float32``/``bfloat16``/``float16`` (and short names); None for auto."""
    import mlx.core as mx

    short = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
    name = short.get(name, name)
    if name == "auto":
        return None
    if name not in DTYPES:
        raise CheckpointError(f"unknown dtype {name!r}; use auto, {', '.join(DTYPES)}")
    return getattr(mx, name)


# ---------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------


def mlx_config(folder: Path, fmt: CheckpointFormat) -> dict[str, Any]:
    """The config.json dict of the MLX model for a folder of any format (Apple's field names)."""
    if fmt is CheckpointFormat.HF:
        config = hf_config_to_apple(_hf_config(folder))
    else:
        config = _read_config(folder)
    config.setdefault("vision_config", {})
    return config


def build_model(config: dict[str, Any]) -> nn.Module:
    """An mlx-vlm FastVLM (random weights, lazily) for an Apple-style config dict.

    The dict gains the ``text_config`` mlx-vlm derives from the top-level Qwen2 fields.
    """
    from mlx_vlm.utils import update_module_configs

    fastvlm = _fastvlm()
    config.setdefault("text_config", {})
    config.setdefault("vision_config", {})
    model_config = fastvlm.ModelConfig.from_dict(config)
    model_config = update_module_configs(model_config, fastvlm, config, ["text", "vision"])
    args = dict(config.get(VISION_ARGS_KEY) or {})
    if args.pop("inference_mode", True) is not True:
        raise CheckpointError("the MLX FastViTHD is the re-parameterised one (inference_mode)")
    unknown = sorted(set(args) - set(_VISION_ARCH_KEYS))
    if unknown:
        raise CheckpointError(
            f"{VISION_ARGS_KEY} has {', '.join(unknown)}, which mlx-vlm's FastViTHD cannot "
            f"take (only {', '.join(_VISION_ARCH_KEYS)}); use backend='torch'"
        )
    for key, value in args.items():  # instance attributes shadow mlx-vlm's class defaults
        setattr(model_config.vision_config, key, list(value))
    return fastvlm.Model(model_config)


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------


def _read_weights(folder: Path, fmt: CheckpointFormat) -> dict[str, mx.array]:
    """All tensors of `folder` as MLX arrays, named as Apple or mlx-vlm name them."""
    import mlx.core as mx

    files = _weight_files(folder)
    if files[0].suffix != ".safetensors":
        raise CheckpointError(
            f"{folder} holds only pickled weights, which the MLX backend does not read: convert "
            "them to safetensors, or load the folder with backend='torch'"
        )
    weights: dict[str, mx.array] = {}
    for file in files:
        try:
            weights.update(mx.load(str(file)))
        except (RuntimeError, ValueError, OSError) as e:
            raise CheckpointError(f"cannot read {file} ({e}): re-download it") from e
    if fmt is CheckpointFormat.HF:
        weights = {hf_to_apple_key(k): v for k, v in weights.items()}
    return weights


def _add_unused_head(weights: dict[str, mx.array], config: dict[str, Any]) -> None:
    """mlx-vlm's tower owns the CLIP head (``head.proj``); hf folders drop it: store zeros."""
    import mlx.core as mx

    if _HEAD in weights:
        config["vision_config"]["projection_dim"] = weights[_HEAD].shape[1]
        return
    dim = config["vision_config"].setdefault("projection_dim", 768)
    weights[_HEAD] = mx.zeros((config.get("mm_hidden_size", 3072), dim))


def _load_weights(
    model: nn.Module,
    config: dict[str, Any],
    weights: dict[str, mx.array],
    folder: Path,
    dtype: mx.Dtype | None,
) -> None:
    """mlx-vlm's sanitize chain, then its strict loader (which also applies quantization)."""
    import mlx.core as mx
    from mlx_vlm.utils import load_model_weights, sanitize_weights

    fastvlm = _fastvlm()
    weights = sanitize_weights(model, weights)
    weights = sanitize_weights(fastvlm.VisionModel, weights, model.config.vision_config)
    weights = sanitize_weights(fastvlm.LanguageModel, weights, model.config.text_config)
    if dtype is not None:
        weights = {
            k: v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) else v
            for k, v in weights.items()
        }
    try:
        load_model_weights(model, config, weights, folder)
    except ValueError as e:
        raise CheckpointError(
            f"the weights in {folder} do not fit its config.json (a different model size, or a "
            f"damaged or foreign checkpoint?): {e}"
        ) from e


def load_fastvlm_mlx(
    path: PathLike, *, dtype: str = "auto"
) -> tuple[nn.Module, dict[str, Any], LoadInfo]:
    """Load an hf, apple or mlx FastVLM folder as an mlx-vlm model (hf/apple: in memory).

    Returns the model, its config.json dict (as an MLX folder stores it) and the load info.
    """
    require_mlx()
    folder = _folder(path)
    fmt = detect_format(folder)
    config = mlx_config(folder, fmt)
    weights = _read_weights(folder, fmt)
    if fmt is not CheckpointFormat.MLX:
        _add_unused_head(weights, config)
    model = build_model(config)
    _load_weights(model, config, weights, folder, mlx_dtype(dtype))
    size, mean, std = _image_settings(folder, _apple_image_size(config))  # size: tower's name
    info = LoadInfo(
        path=folder,
        format=fmt,
        image_token_id=int(config.get("image_token_index", -200)),
        image_size=size,
        num_image_tokens=math.ceil(size / VISION_REDUCTION) ** 2,
        image_mean=mean,
        image_std=std,
        content_hash=checkpoint_hash(folder),
    )
    return model, config, info


def convert_to_mlx(
    src: PathLike, dst: PathLike, *, dtype: str = "auto", overwrite: bool = False
) -> Path:
    """Write an hf or apple folder as an mlx-vlm one (``agent-sdk convert SRC DST --to mlx``).

    Tensors keep their stored dtype unless `dtype` names another; all are checked against the
    config before any is written. A non-empty `dst` needs ``overwrite=True``.
    """
    from mlx_vlm.utils import save_config, save_weights

    require_mlx()
    folder, out = _folder(src), Path(dst).expanduser()
    if detect_format(folder) is CheckpointFormat.MLX:
        raise CheckpointError(f"{folder} is already in mlx format")
    if out.resolve() == folder.resolve():
        raise CheckpointError(f"cannot convert {folder} into itself: choose another dst")
    _prepare_dst(out, overwrite)
    model, config, info = load_fastvlm_mlx(folder, dtype=dtype)
    save_weights(out, model)
    config.pop("text_config", None)  # mlx-vlm derives it from the top-level fields again
    save_config(config, out / "config.json")
    for name in _COPIED:
        if (folder / name).is_file():
            shutil.copy2(folder / name, out / name)
    if not (out / "preprocessor_config.json").is_file():
        text = json.dumps(_preprocessor_config(info.image_size), indent=2) + "\n"
        (out / "preprocessor_config.json").write_text(text)
    log.info("converted %s (%s) to MLX in %s", folder, info.format.value, out)
    return out
