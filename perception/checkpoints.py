"""Find, validate, load and convert FastVLM checkpoints: local folders only, never a download.

Three folder formats are recognised (`detect_format`):

* ``hf``: transformers' native ``fast_vlm`` (``FastVlmForConditionalGeneration``).
* ``apple``: Apple's original ``llava_qwen2`` folders (``llava-fastvithd_0.5b_stage3``,
  ``apple/FastVLM-0.5B``): Qwen2 fields at the top level of ``config.json`` plus ``mm_*`` fields,
  and MobileCLIP (``MCi``) names for the vision tower. They are mapped to ``hf`` in memory
  (`apple_to_hf_key`, `apple_config_to_hf`) or once to disk (`convert_checkpoint`).
* ``mlx``: mlx-vlm conversions; only recognised here, for the MLX backend.

Image token: Apple's code splices image features in at a sentinel id (-200) and its vocabulary has
no ``<image>`` token. Our backends build ``inputs_embeds`` themselves, so an Apple checkpoint keeps
its vocabulary and gets ``image_token_id = len(tokenizer)`` when that is below ``vocab_size`` (a
padding row of the embedding table that the tokenizer never emits), else ``vocab_size`` (a
sentinel that is never embedded). ``convert_checkpoint(..., to="hf")`` adds ``<image>`` to the
tokenizer at exactly that id, as transformers' own conversion does.

Weights are safetensors; pickles (``.bin``/``.pt``) are refused unless ``allow_pickle=True``, and
then read with ``torch.load(weights_only=True)``. torch, transformers and timm are imported only
by the functions that need them (`detect_format` and `checkpoint_hash` work without them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import struct
import time
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perception.errors import BackendUnavailable, CheckpointError

if TYPE_CHECKING:
    import torch
    from transformers import (
        FastVlmConfig,
        FastVlmForConditionalGeneration,
        PreTrainedTokenizerBase,
    )

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

VISION_ARGS_KEY = "mm_vision_model_args"
"""Extra Apple config field with timm ``fastvit_mci3`` kwargs (ours, for small test models)."""

IMAGE_TOKEN = "<image>"
_VISION_REDUCTION = 64  # fastvit_mci3: a stride-4 stem, then four stride-2 downsamples
_DEFAULT_IMAGE_SIZE = 1024
_DEFAULT_VISION_ARGS: dict[str, Any] = {"inference_mode": True}
_LIST_LIMIT = 8  # names shown in an error before "... and N more"
_HASH_SAMPLES = 64  # 4 KiB samples of tensor data per file in `checkpoint_hash`
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class CheckpointFormat(str, Enum):
    """The folder layouts `detect_format` tells apart."""

    HF = "hf"
    APPLE = "apple"
    MLX = "mlx"


_MODEL_TYPES = {
    "fast_vlm": CheckpointFormat.HF,
    "llava_qwen2": CheckpointFormat.APPLE,
    "fastvlm": CheckpointFormat.APPLE,
}
_MLX_PREFIXES = ("language_model.", "vision_tower.", "mm_projector.")
_ARCHITECTURES = ("FastVlmForConditionalGeneration", "LlavaQwen2ForCausalLM")


@dataclasses.dataclass(frozen=True)
class LoadInfo:
    """What a backend needs to know about a loaded checkpoint besides the model itself."""

    path: Path
    format: CheckpointFormat
    image_token_id: int  # the id whose positions receive image features
    image_size: int  # square side the vision tower expects, in pixels
    num_image_tokens: int  # image features per image at `image_size`
    image_mean: tuple[float, ...]  # per-channel normalisation after scaling pixels to [0, 1]
    image_std: tuple[float, ...]
    content_hash: str  # `checkpoint_hash(path)`


# ---------------------------------------------------------------------------------------------
# Folders, formats, weight files
# ---------------------------------------------------------------------------------------------


def _folder(path: PathLike) -> Path:
    """The checkpoint folder `path` names, or a CheckpointError saying what to do."""
    folder = Path(path).expanduser()
    if folder.is_dir():
        return folder
    if folder.exists():
        raise CheckpointError(f"{folder} is a file; pass the checkpoint folder that contains it")
    name = os.fspath(path)
    if _HUB_ID.fullmatch(name):
        raise CheckpointError(
            f"{name!r} is not a local folder. fastvlm-agent-sdk never downloads at run time: "
            f"download it once with `huggingface-cli download {name} --local-dir DIR` "
            f"(or `hf download {name} --local-dir DIR`), then pass DIR"
        )
    raise CheckpointError(f"checkpoint folder {folder} does not exist")


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"cannot read {file}: {e}") from e
    if not isinstance(data, dict):
        raise CheckpointError(f"{file} does not hold a JSON object")
    return data


def _read_config(folder: Path) -> dict[str, Any]:
    file = folder / "config.json"
    if not file.is_file():
        raise CheckpointError(
            f"{folder} has no config.json: copy it from the original download of this checkpoint"
        )
    return _read_json(file)


def _weight_files(folder: Path) -> list[Path]:
    """The safetensors shards of `folder` (index first), else its pickles."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = _read_json(index).get("weight_map", {})
        files = [folder / name for name in sorted(set(weight_map.values()))]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise CheckpointError(
                f"{index} lists shards that are not in {folder}: {_names(missing)}; "
                "finish or repeat the download"
            )
        return files
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        files = sorted(
            f
            for f in (*folder.glob("*.bin"), *folder.glob("*.pt"), *folder.glob("*.pth"))
            if not f.name.startswith("training_args")
        )
    if not files:
        raise CheckpointError(
            f"{folder} holds no weights (*.safetensors): copy the model files of the download"
        )
    return files


def _safetensors_header(file: Path) -> tuple[bytes, dict[str, Any]]:
    """The raw JSON header of a safetensors file and its parsed form, checked against the size."""
    size = file.stat().st_size
    bad = f"{file} is truncated or corrupted (not a complete safetensors file): re-download it"
    with file.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise CheckpointError(bad)
        (length,) = struct.unpack("<Q", prefix)
        if length > size - 8:
            raise CheckpointError(bad)
        raw = f.read(length)
    try:
        header = json.loads(raw)
        end = max(
            (v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0
        )
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise CheckpointError(bad) from e
    if 8 + length + end > size:
        raise CheckpointError(f"{bad} (expected {8 + length + end} bytes, found {size})")
    return raw, header


def _tensor_names(files: Iterable[Path]) -> list[str]:
    return [
        name
        for f in files
        if f.suffix == ".safetensors"
        for name in _safetensors_header(f)[1]
        if name != "__metadata__"
    ]


def detect_format(path: PathLike) -> CheckpointFormat:
    """Tell a folder's layout from its config.json and weight names (headers only, no data)."""
    folder = _folder(path)
    config = _read_config(folder)
    model_type = config.get("model_type")
    if model_type not in _MODEL_TYPES:
        raise CheckpointError(
            f"{folder}/config.json has model_type {model_type!r}; supported: "
            f"{', '.join(sorted(_MODEL_TYPES))} (a FastVLM checkpoint)"
        )
    names = _tensor_names(_weight_files(folder))
    if "quantization" in config or any(n.startswith(_MLX_PREFIXES) for n in names):
        return CheckpointFormat.MLX
    return _MODEL_TYPES[model_type]


def checkpoint_hash(path: PathLike) -> str:
    """A fast fingerprint of a checkpoint (sha256), not a checksum of every byte.

    It covers config.json, each weight file's name and size, each safetensors header (names,
    dtypes, shapes, offsets) and 64 evenly spaced 4 KiB samples of each file, so that a
    fine-tuned copy of the same architecture hashes differently without reading gigabytes.
    """
    folder = _folder(path)
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for file in _weight_files(folder):
        size = file.stat().st_size
        digest.update(f"{file.name}\0{size}\0".encode())
        if file.suffix == ".safetensors":
            digest.update(_safetensors_header(file)[0])
        with file.open("rb") as f:
            for i in range(_HASH_SAMPLES):
                f.seek(size * i // _HASH_SAMPLES)
                digest.update(f.read(4096))
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading weights
# ---------------------------------------------------------------------------------------------


def _require_torch() -> None:
    missing = [m for m in ("torch", "transformers", "timm") if importlib.util.find_spec(m) is None]
    if missing:
        raise BackendUnavailable(
            f"loading FastVLM with PyTorch needs {', '.join(missing)}: "
            "pip install 'fastvlm-agent-sdk[torch]'"
        )


def _place(
    tensor: torch.Tensor, dtype: torch.dtype | None, device: str | torch.device
) -> torch.Tensor:
    """Move one tensor, casting floating point ones to `dtype` (a no-op when nothing changes)."""
    cast = dtype if dtype is not None and tensor.is_floating_point() else None
    return tensor.to(device=device, dtype=cast)


def _read_safetensors(
    files: list[Path], dtype: torch.dtype | None, device: str | torch.device
) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    state: dict[str, torch.Tensor] = {}
    for file in files:
        _safetensors_header(file)
        try:
            # Tensors are views of a private memory map: a same-dtype CPU load copies nothing.
            with safe_open(file, framework="pt", device="cpu") as f:
                for name in f.keys():  # noqa: SIM118 (safe_open is not a Mapping)
                    if name in state:
                        raise CheckpointError(f"tensor {name} is stored twice (again in {file})")
                    state[name] = _place(f.get_tensor(name), dtype, device)
        except (SafetensorError, OSError) as e:
            raise CheckpointError(f"cannot read {file} ({e}): re-download it") from e
    return state


def _read_pickles(
    files: list[Path], dtype: torch.dtype | None, device: str | torch.device
) -> dict[str, torch.Tensor]:
    import pickle

    import torch

    state: dict[str, torch.Tensor] = {}
    for file in files:
        try:
            loaded = torch.load(file, weights_only=True, map_location="cpu", mmap=True)
        except pickle.UnpicklingError as e:
            raise CheckpointError(
                f"refused {file}: it holds objects other than tensors, which weights_only "
                f"loading does not run (it may be malicious). Details: {e}"
            ) from e
        except (RuntimeError, OSError, EOFError) as e:
            raise CheckpointError(
                f"cannot read {file} ({e}); if it is damaged, re-download it"
            ) from e
        if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
            loaded = loaded["state_dict"]
        if not isinstance(loaded, dict) or not all(
            isinstance(v, torch.Tensor) for v in loaded.values()
        ):
            raise CheckpointError(f"{file} is not a state dict of tensors")
        state.update({k: _place(v, dtype, device) for k, v in loaded.items()})
    return state


def read_state_dict(
    path: PathLike,
    *,
    allow_pickle: bool = False,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint folder, as stored (names unchanged).

    Floating point tensors are cast to `dtype` (when given) one at a time while reading.
    safetensors tensors are views of a private memory map of the file, so a CPU load in the
    stored dtype copies nothing. Pickled weights need ``allow_pickle=True``.
    """
    _require_torch()
    folder = _folder(path)
    files = _weight_files(folder)
    if files[0].suffix == ".safetensors":
        return _read_safetensors(files, dtype, device)
    if not allow_pickle:
        raise CheckpointError(
            f"{folder} holds only pickled weights ({_names(f.name for f in files)}), which can "
            "run code when loaded. Convert them to safetensors, or pass allow_pickle=True to read "
            "them with torch.load(weights_only=True) if you trust their source"
        )
    return _read_pickles(files, dtype, device)


# ---------------------------------------------------------------------------------------------
# Apple <-> HF names
# ---------------------------------------------------------------------------------------------

_APPLE_VISION = "model.vision_tower.vision_tower.model."
_HF_VISION = "model.vision_tower.timm_model."
_TEXT_PREFIXES = (  # (Apple, HF) for everything outside the vision tower
    ("model.layers.", "model.language_model.layers."),
    ("model.embed_tokens.", "model.language_model.embed_tokens."),
    ("model.norm.", "model.language_model.norm."),
    ("model.mm_projector.0.", "model.multi_modal_projector.linear_1."),
    ("model.mm_projector.2.", "model.multi_modal_projector.linear_2."),
)
# Apple's `network` list interleaves each stage's blocks with the patch embedding that
# downsamples into it and (stages 3 and 4) its RepCPE positional embedding.
_NETWORK = (
    (0, "blocks"),
    (1, "downsample"),
    (1, "blocks"),
    (2, "downsample"),
    (2, "blocks"),
    (3, "downsample"),
    (3, "pos_emb"),
    (3, "blocks"),
    (4, "downsample"),
    (4, "pos_emb"),
    (4, "blocks"),
)
_NETWORK_INDEX = {entry: i for i, entry in enumerate(_NETWORK)}
_VISION_RENAMES = (  # (Apple, HF) inside the vision tower
    ("patch_embed.", "stem."),
    ("conv_exp.", "final_conv."),
    ("final_conv.se.reduce.", "final_conv.se.fc1."),
    ("final_conv.se.expand.", "final_conv.se.fc2."),
    ("convffn.", "mlp."),
)
_LAYER_SCALE = re.compile(r"(layer_scale(?:_\d)?)$")
_LAYER_SCALE_GAMMA = re.compile(r"(layer_scale(?:_\d)?)\.gamma$")


def _swap_prefix(key: str, pairs: Iterable[tuple[str, str]]) -> str:
    for old, new in pairs:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def _apple_vision_to_hf(rest: str) -> str:
    match = re.match(r"network\.(\d+)\.(.*)", rest)
    if match:
        index, tail = int(match[1]), match[2]
        if index >= len(_NETWORK):
            raise CheckpointError(f"unexpected Apple vision key network.{index}.{tail}")
        stage, part = _NETWORK[index]
        if part == "downsample":
            tail = tail.replace("proj.0.lkb_reparam.", "proj.0.reparam_conv.")
        rest = f"stages.{stage}.{part}.{tail}"
    for old, new in _VISION_RENAMES:
        rest = rest.replace(old, new)
    return _LAYER_SCALE.sub(r"\1.gamma", rest)


def _hf_vision_to_apple(rest: str) -> str:
    rest = _LAYER_SCALE_GAMMA.sub(r"\1", rest)
    for old, new in reversed(_VISION_RENAMES):
        rest = rest.replace(new, old)
    match = re.match(r"stages\.(\d+)\.(blocks|downsample|pos_emb)\.(.*)", rest)
    if match:
        stage, part, tail = int(match[1]), match[2], match[3]
        if (stage, part) not in _NETWORK_INDEX:
            raise CheckpointError(f"no Apple name for vision key stages.{stage}.{part}.{tail}")
        if part == "downsample":
            tail = tail.replace("proj.0.reparam_conv.", "proj.0.lkb_reparam.")
        rest = f"network.{_NETWORK_INDEX[stage, part]}.{tail}"
    return rest


def apple_to_hf_key(key: str) -> str:
    """The transformers ``fast_vlm`` name of one Apple ``llava_qwen2`` tensor name."""
    if key.startswith(_APPLE_VISION):
        return _HF_VISION + _apple_vision_to_hf(key[len(_APPLE_VISION) :])
    return _swap_prefix(key, _TEXT_PREFIXES)


def hf_to_apple_key(key: str) -> str:
    """The Apple ``llava_qwen2`` name of one transformers ``fast_vlm`` tensor name."""
    if key.startswith(_HF_VISION):
        return _APPLE_VISION + _hf_vision_to_apple(key[len(_HF_VISION) :])
    return _swap_prefix(key, ((hf, apple) for apple, hf in _TEXT_PREFIXES))


def convert_apple_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an Apple state dict to ``fast_vlm`` names, dropping the unused CLIP head."""
    return {
        apple_to_hf_key(k): v
        for k, v in state_dict.items()
        if not k.startswith(_APPLE_VISION + "head.")
    }


# ---------------------------------------------------------------------------------------------
# Apple <-> HF configs
# ---------------------------------------------------------------------------------------------

_APPLE_TEXT_FIELDS = (  # Qwen2 fields that Apple keeps at the top level of config.json
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "use_cache",
    "tie_word_embeddings",
    "use_sliding_window",
    "sliding_window",
    "max_window_layers",
    "attention_dropout",
    "bos_token_id",
    "eos_token_id",
)
_APPLE_REQUIRED = _APPLE_TEXT_FIELDS[:6]  # the sizes: vocab_size ... num_key_value_heads
_APPLE_MM_FIELDS: dict[str, Any] = {  # fixed values Apple's llava code reads
    "mm_projector_type": "mlp2x_gelu",
    "image_aspect_ratio": "pad",
    "mm_patch_merge_type": "flat",
    "mm_vision_select_layer": -2,
    "mm_vision_select_feature": "patch",
    "mm_use_im_start_end": False,
    "mm_use_im_patch_token": False,
}


def _apple_image_size(cfg: Mapping[str, Any]) -> int:
    """Apple's tower name ends with its input size (``mobileclip_l_1024``), as its loader reads."""
    tower = str(cfg.get("mm_vision_tower", ""))
    if not tower.startswith("mobileclip_l"):
        raise CheckpointError(
            f"mm_vision_tower {tower!r} is not supported: FastVLM uses mobileclip_l_<size> "
            "(FastViTHD, timm fastvit_mci3)"
        )
    suffix = tower.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isdigit() else _DEFAULT_IMAGE_SIZE


def apple_config_to_hf(
    cfg: Mapping[str, Any],
    vision_model_args: Mapping[str, Any] | None = None,
    *,
    image_token_index: int | None = None,
) -> FastVlmConfig:
    """A ``FastVlmConfig`` for an Apple ``llava_qwen2`` config.json.

    The vision tower is timm ``fastvit_mci3`` built re-parameterised (``inference_mode``, as
    Apple's weights are). Its kwargs come from `vision_model_args`, else from the config's
    ``mm_vision_model_args`` (written by our small test models only), else full size.
    `image_token_index` defaults to ``vocab_size`` (see the module docstring).
    """
    _require_torch()
    from transformers import FastVlmConfig

    missing = [k for k in _APPLE_REQUIRED if k not in cfg]
    if missing:
        raise CheckpointError(f"the Apple config.json lacks {', '.join(missing)}")
    projector = cfg.get("mm_projector_type", "mlp2x_gelu")
    if projector != "mlp2x_gelu":
        raise CheckpointError(f"mm_projector_type {projector!r} is not supported (mlp2x_gelu)")
    image_size = _apple_image_size(cfg)
    args = {**(vision_model_args or cfg.get(VISION_ARGS_KEY) or {}), "inference_mode": True}
    text = {k: cfg[k] for k in (*_APPLE_TEXT_FIELDS, "rope_theta", "rope_scaling") if k in cfg}
    return FastVlmConfig(
        vision_config={
            "model_type": "timm_wrapper",
            "architecture": "fastvit_mci3",
            "global_pool": "avg",
            "hidden_size": cfg.get("mm_hidden_size", 3072),
            "model_args": args,
        },
        text_config={"model_type": "qwen2", **text},
        image_token_index=cfg["vocab_size"] if image_token_index is None else image_token_index,
        image_seq_length=math.ceil(image_size / _VISION_REDUCTION) ** 2,
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
    )


def _config_image_size(config: FastVlmConfig) -> int:
    return math.isqrt(config.image_seq_length) * _VISION_REDUCTION


def hf_config_to_apple(config: FastVlmConfig) -> dict[str, Any]:
    """An Apple ``llava_qwen2`` config.json dict for a ``FastVlmConfig`` (inverse of the above).

    The input size goes into the tower name, from ``image_seq_length``; timm kwargs other than
    the full-size default are kept in ``mm_vision_model_args``.
    """
    text = config.text_config
    out: dict[str, Any] = {
        "architectures": ["LlavaQwen2ForCausalLM"],
        "model_type": "llava_qwen2",
        **{k: getattr(text, k) for k in _APPLE_TEXT_FIELDS},
        "rope_theta": text.rope_parameters["rope_theta"],
        "mm_vision_tower": f"mobileclip_l_{_config_image_size(config)}",
        "mm_hidden_size": config.vision_config.hidden_size,
        **_APPLE_MM_FIELDS,
    }
    args = dict(config.vision_config.model_args or {})
    if args != _DEFAULT_VISION_ARGS:
        out[VISION_ARGS_KEY] = args
    return out


# ---------------------------------------------------------------------------------------------
# Tokenizer and image settings
# ---------------------------------------------------------------------------------------------


def load_tokenizer(path: PathLike) -> PreTrainedTokenizerBase:
    """The tokenizer saved in a checkpoint folder (local files only)."""
    _require_torch()
    from transformers import AutoTokenizer, Qwen2Config

    folder = _folder(path)
    if not any((folder / f).is_file() for f in ("tokenizer.json", "vocab.json", "tokenizer.model")):
        raise CheckpointError(
            f"missing tokenizer in {folder}: copy tokenizer.json (or vocab.json and merges.txt), "
            "tokenizer_config.json and special_tokens_map.json from the original download"
        )
    # Apple's config.json has a model_type transformers does not know; its text model is Qwen2.
    config = folder / "config.json"
    apple = config.is_file() and _MODEL_TYPES.get(_read_json(config).get("model_type")) is (
        CheckpointFormat.APPLE
    )
    extra = {"config": Qwen2Config()} if apple else {}
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True, **extra)
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"cannot load the tokenizer in {folder}: {e}") from e


def _apple_image_token_id(folder: Path, vocab_size: int) -> int:
    try:
        size = len(load_tokenizer(folder))
    except CheckpointError:
        return vocab_size
    return size if size < vocab_size else vocab_size


def _image_settings(folder: Path, size: int) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
    """Input size, mean and std: from preprocessor_config.json, else ``size`` and FastVLM's
    (0 mean, 1 std)."""
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    file = folder / "preprocessor_config.json"
    if not file.is_file():
        return size, mean, std
    pre = _read_json(file)
    side = pre.get("crop_size") or pre.get("size") or size
    if isinstance(side, dict):
        side = side.get("height") or side.get("shortest_edge") or size
    return int(side), tuple(pre.get("image_mean", mean)), tuple(pre.get("image_std", std))


def image_normalisation(path: PathLike) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The per-channel mean and std a checkpoint folder's images are normalised with (after
    scaling to [0, 1]), read without loading the model."""
    _, mean, std = _image_settings(Path(path).expanduser(), 0)
    return mean, std


# ---------------------------------------------------------------------------------------------
# Building and checking the model
# ---------------------------------------------------------------------------------------------


def _names(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:_LIST_LIMIT])
    more = len(names) - _LIST_LIMIT
    return f"{shown} ... and {more} more" if more > 0 else shown


def _meta_model(config: FastVlmConfig) -> FastVlmForConditionalGeneration:
    """The model with every tensor on the meta device: no memory, no initialisation."""
    import torch
    from transformers import FastVlmForConditionalGeneration

    try:
        with torch.device("meta"):
            return FastVlmForConditionalGeneration(config)
    except (ImportError, RuntimeError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(
            f"cannot build the model its config.json describes ({type(e).__name__}: {e}); "
            "FastVLM needs vision_config.architecture 'fastvit_mci3' and a qwen2 text_config: "
            "use the config.json of the original download"
        ) from e


def _check_state_dict(
    model: FastVlmForConditionalGeneration, state: dict[str, torch.Tensor], where: Path
) -> None:
    """Raise one CheckpointError naming every missing, unexpected and mis-shaped tensor.

    A tied model takes its output head from the input embeddings, so a stored
    ``lm_head.weight`` is dropped from `state`, as transformers does.
    """
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected_dtype = {k: v.dtype for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        expected.pop("lm_head.weight", None)
        state.pop("lm_head.weight", None)
    problems = []
    missing = [k for k in expected if k not in state]
    if missing:
        hint = (
            " (tie_word_embeddings is false, so lm_head.weight must be stored)"
            if "lm_head.weight" in missing
            else ""
        )
        problems.append(f"{len(missing)} missing: {_names(missing)}{hint}")
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {_names(unexpected)}")
    wrong = [
        f"{k} expected {expected[k]}, found {tuple(v.shape)}"
        for k, v in state.items()
        if k in expected and tuple(v.shape) != expected[k]
    ]
    if wrong:
        problems.append(f"{len(wrong)} of the wrong shape: {_names(wrong)}")
    kinds = [  # a float parameter cannot take integers or booleans (float16/64 are cast)
        f"{k} expected floating point, found {str(v.dtype).removeprefix('torch.')}"
        for k, v in state.items()
        if k in expected_dtype and expected_dtype[k].is_floating_point and not v.is_floating_point()
    ]
    if kinds:
        problems.append(f"{len(kinds)} of the wrong dtype: {_names(kinds)}")
    if problems:
        raise CheckpointError(
            f"the weights in {where} do not fit its config.json (a different model size, or a "
            f"damaged or foreign checkpoint?): {'; '.join(problems)}"
        )


def _materialise_buffers(model: torch.nn.Module, device: str | torch.device) -> None:
    """Compute the buffers checkpoints do not store (rotary ``inv_freq``) off the meta device.

    Each module owning such a buffer (and no parameters) is re-initialised by transformers'
    ``_init_weights``, which is what ``from_pretrained`` does for them.
    """
    import torch

    for module in model.modules():
        meta = [n for n, b in module.named_buffers(recurse=False) if b.is_meta]
        if not meta or next(module.parameters(recurse=False), None) is not None:
            continue
        for name in meta:
            setattr(module, name, torch.empty_like(getattr(module, name), device=device))
        model._init_weights(module)
    left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if left:
        raise CheckpointError(f"no value for {_names(left)} after loading (unsupported model)")


def _hf_config(folder: Path) -> FastVlmConfig:
    from transformers import FastVlmConfig

    try:
        return FastVlmConfig.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"invalid config.json in {folder}: {e}") from e


def _config_and_state(
    folder: Path,
    fmt: CheckpointFormat,
    *,
    allow_pickle: bool,
    dtype: torch.dtype | None,
    device: str | torch.device,
) -> tuple[FastVlmConfig, dict[str, torch.Tensor]]:
    """The ``fast_vlm`` config and state dict of an hf or apple folder."""
    if fmt is CheckpointFormat.MLX:
        raise CheckpointError(
            f"{folder} is an mlx-vlm checkpoint: load it with backend='mlx' (Apple silicon), or "
            "use the original PyTorch download (Apple's or the transformers fast_vlm one)"
        )
    named = _read_config(folder).get("architectures") or []
    if unknown := [a for a in named if a not in _ARCHITECTURES]:
        raise CheckpointError(
            f"{folder}/config.json names the architecture {', '.join(map(str, unknown))}, not "
            f"FastVLM ({' or '.join(_ARCHITECTURES)}): pass a FastVLM checkpoint folder, or fix "
            "the architectures field if this one was saved under another class name"
        )
    if fmt is CheckpointFormat.HF:
        config = _hf_config(folder)
    else:
        cfg = _read_config(folder)
        image_token_id = _apple_image_token_id(folder, cfg.get("vocab_size", 0))
        config = apple_config_to_hf(cfg, image_token_index=image_token_id)
    state = read_state_dict(folder, allow_pickle=allow_pickle, dtype=dtype, device=device)
    if fmt is CheckpointFormat.APPLE:
        state = convert_apple_state_dict(state)
    return config, state


def load_fastvlm_torch(
    path: PathLike,
    *,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
    allow_pickle: bool = False,
) -> tuple[FastVlmForConditionalGeneration, LoadInfo]:
    """Load an hf or apple FastVLM folder as a transformers model in eval mode.

    The model is built on the meta device and takes the read tensors as its own
    (``assign=True``), so a checkpoint loaded in its stored dtype costs about its file size in
    memory. `dtype` defaults to float32.
    """
    _require_torch()
    import torch

    start = time.perf_counter()
    folder = _folder(path)
    fmt = detect_format(folder)
    config, state = _config_and_state(
        folder, fmt, allow_pickle=allow_pickle, dtype=dtype or torch.float32, device=device
    )
    model = _meta_model(config)
    _check_state_dict(model, state, folder)
    model.load_state_dict(state, strict=False, assign=True)  # keys checked above
    if config.tie_word_embeddings:
        model.get_output_embeddings().weight = model.get_input_embeddings().weight
    _materialise_buffers(model, device)
    model.eval()
    size, mean, std = _image_settings(folder, _config_image_size(config))
    reduction = model.model.vision_tower.timm_model.feature_info[-1]["reduction"]
    info = LoadInfo(
        path=folder,
        format=fmt,
        image_token_id=config.image_token_index,
        image_size=size,
        num_image_tokens=math.ceil(size / reduction) ** 2,
        image_mean=mean,
        image_std=std,
        content_hash=checkpoint_hash(folder),
    )
    logger.info("loaded %s (%s) in %.1f s", folder, fmt.value, time.perf_counter() - start)
    return model, info


# ---------------------------------------------------------------------------------------------
# Writing and converting
# ---------------------------------------------------------------------------------------------


def _preprocessor_config(size: int) -> dict[str, Any]:
    """FastVLM's image processing: resize and crop to `size`, scale to [0, 1], no normalisation."""
    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": size},
        "do_center_crop": True,
        "crop_size": {"height": size, "width": size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.0, 0.0, 0.0],
        "image_std": [1.0, 1.0, 1.0],
        "do_convert_rgb": True,
        "resample": 3,
    }


def _prepare_dst(dst: Path, overwrite: bool) -> None:
    """Create `dst`; refuse a non-empty one unless `overwrite`, then remove its old weights."""
    if dst.exists() and not dst.is_dir():
        raise CheckpointError(f"{dst} is a file, not a folder")
    if dst.is_dir() and any(dst.iterdir()):
        if not overwrite:
            raise CheckpointError(f"{dst} is not empty: choose another folder or overwrite=True")
        for pattern in ("*.safetensors", "*.safetensors.index.json", "*.bin", "*.pt", "*.pth"):
            for stale in dst.glob(pattern):
                stale.unlink()
    dst.mkdir(parents=True, exist_ok=True)


def _writable_layout(layout: CheckpointFormat | str) -> CheckpointFormat:
    if layout not in ("hf", "apple"):
        raise CheckpointError(
            f"can write the 'hf' and 'apple' layouts here, not {layout!r} "
            "(convert_checkpoint(..., to='mlx') writes mlx ones)"
        )
    return CheckpointFormat(layout)


def save_fastvlm_checkpoint(
    dst: PathLike,
    state_dict: Mapping[str, torch.Tensor],
    config: FastVlmConfig,
    *,
    layout: CheckpointFormat | str = CheckpointFormat.HF,
    tokenizer: PreTrainedTokenizerBase | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a ``fast_vlm`` state dict and config as an hf or apple folder.

    hf: config.json, model.safetensors, preprocessor_config.json, and the tokenizer with
    ``<image>`` added to it (at ``config.image_token_index`` when that is ``len(tokenizer)``).
    apple: ``llava_qwen2`` config.json and names, tokenizer as given. A tied model's
    ``lm_head.weight`` is not stored.
    """
    _require_torch()
    from safetensors.torch import save_file
    from transformers import AddedToken

    layout = _writable_layout(layout)
    out = Path(dst).expanduser()
    _prepare_dst(out, overwrite)
    rename = hf_to_apple_key if layout is CheckpointFormat.APPLE else str
    tensors = {
        rename(k): v.contiguous()
        for k, v in state_dict.items()
        if not (config.tie_word_embeddings and k == "lm_head.weight")
    }
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    if layout is CheckpointFormat.APPLE:
        (out / "config.json").write_text(json.dumps(hf_config_to_apple(config), indent=2) + "\n")
    else:
        config.save_pretrained(out)
        preprocessor = _preprocessor_config(_config_image_size(config))
        (out / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2) + "\n")
    if tokenizer is not None:
        if layout is CheckpointFormat.HF and IMAGE_TOKEN not in tokenizer.get_vocab():
            tokenizer.add_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)])
        tokenizer.save_pretrained(out)
    return out


_CAST_DTYPES = ("float32", "float16", "bfloat16")


def convert_checkpoint(
    src: PathLike, dst: PathLike, *, to: str = "hf", overwrite: bool = False,
    dtype: str | None = None,
) -> Path:  # fmt: skip
    """Write an apple folder as an hf ``fast_vlm`` one (``to="hf"``), or back (``to="apple"``),
    or an hf or apple folder as an mlx-vlm one (``to="mlx"``, `perception.mlx_convert`).

    The result of ``to="hf"`` also loads with ``FastVlmForConditionalGeneration.from_pretrained``.
    Tensors keep their stored dtype unless ``dtype`` (float32, float16 or bfloat16) casts the
    floating ones (then the layout may stay the same), and are checked against the config before
    any is written. A non-empty `dst` needs ``overwrite=True``, which removes the weight files
    already there.
    """
    if dtype is not None and dtype not in _CAST_DTYPES:
        raise CheckpointError(f"dtype must be one of {', '.join(_CAST_DTYPES)}, got {dtype!r}")
    if to == CheckpointFormat.MLX:
        if dtype is not None:
            raise CheckpointError("--dtype is for hf and apple folders; MLX keeps the dtype")
        from perception.mlx_convert import convert_to_mlx

        return convert_to_mlx(src, dst, overwrite=overwrite)
    _require_torch()
    import torch

    target = _writable_layout(to)
    folder, out = _folder(src), Path(dst).expanduser()
    fmt = detect_format(folder)
    if fmt is target and dtype is None:
        raise CheckpointError(
            f"{folder} is already in {target.value} format (give --dtype to cast it)"
        )
    if out.resolve() == folder.resolve():
        raise CheckpointError(f"cannot convert {folder} into itself: choose another dst")
    _prepare_dst(out, overwrite)  # fail early, before reading gigabytes
    config, state = _config_and_state(folder, fmt, allow_pickle=False, dtype=None, device="cpu")
    _check_state_dict(_meta_model(config), state, folder)
    if dtype is not None:
        cast = getattr(torch, dtype)
        state = {k: v.to(cast) if v.is_floating_point() else v for k, v in state.items()}
    try:
        tokenizer = load_tokenizer(folder)
    except CheckpointError as e:
        logger.warning("converting without a tokenizer: %s", e)
        tokenizer = None
    return save_fastvlm_checkpoint(
        out, state, config, layout=target, tokenizer=tokenizer, overwrite=overwrite
    )
