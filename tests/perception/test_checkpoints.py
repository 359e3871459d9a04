"""Checkpoints: every layout loads to the same model, names map both ways, errors say what to do."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import FastVlmConfig, FastVlmForConditionalGeneration

from perception.checkpoints import (
    CheckpointFormat,
    LoadInfo,
    apple_config_to_hf,
    apple_to_hf_key,
    checkpoint_hash,
    convert_apple_state_dict,
    convert_checkpoint,
    detect_format,
    hf_config_to_apple,
    hf_to_apple_key,
    image_normalisation,
    load_fastvlm_torch,
    load_tokenizer,
    read_state_dict,
)
from perception.errors import CheckpointError
from perception.reference import FASTVLM_05B_APPLE_CONFIG
from perception.tiny import (
    TINY_TOKENIZER_SIZE,
    random_state_dict,
    save_tiny_checkpoint,
    tiny_config,
    tiny_tokenizer,
)

Layout = tuple[str, bool]  # (hf or apple, tied head)
LAYOUTS: list[Layout] = [("hf", True), ("hf", False), ("apple", True), ("apple", False)]
PIXELS = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(0))
TEXT = torch.arange(3, 43).reshape(2, 20)
APPLE_VISION = "model.vision_tower.vision_tower.model."
HF_VISION = "model.vision_tower.timm_model."
# apple/FastVLM-0.5B's config.json (abridged)


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[Layout, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {
        (layout, tied): save_tiny_checkpoint(
            root / f"{layout}-{'tied' if tied else 'untied'}", layout, tie_word_embeddings=tied
        )
        for layout, tied in LAYOUTS
    }


@pytest.fixture(scope="module")
def loaded(
    tiny_dirs: dict[Layout, Path],
) -> dict[Layout, tuple[FastVlmForConditionalGeneration, LoadInfo]]:
    return {key: load_fastvlm_torch(path) for key, path in tiny_dirs.items()}


@pytest.fixture(scope="module")
def full_config() -> FastVlmConfig:
    return apple_config_to_hf(FASTVLM_05B_APPLE_CONFIG)


def _outputs(model: FastVlmForConditionalGeneration) -> tuple[torch.Tensor, torch.Tensor]:
    """Projected image features of PIXELS and text-only logits of TEXT."""
    with torch.no_grad():
        image = model.model.get_image_features(PIXELS).pooler_output
        logits = model(input_ids=TEXT).logits
    return image, logits


def _assert_close(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal up to float rounding: kernels may round differently for differently aligned weights
    (memory-mapped tensors sit wherever the file puts them), even with bitwise equal weights."""
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def _assert_same_outputs(
    model: FastVlmForConditionalGeneration, other: FastVlmForConditionalGeneration
) -> None:
    for got, want in zip(_outputs(model), _outputs(other), strict=True):
        _assert_close(got, want)


def _meta_state(config: FastVlmConfig) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return FastVlmForConditionalGeneration(config).state_dict()


def _copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst))


def _edit_weights(folder: Path, edit: Callable[[dict[str, torch.Tensor]], object]) -> None:
    file = folder / "model.safetensors"
    state = load_file(file)
    edit(state)
    save_file(state, file, metadata={"format": "pt"})


# ----------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("tied", [True, False])
def test_hf_and_apple_layouts_load_to_identical_models(loaded, tied: bool) -> None:
    hf, apple = loaded["hf", tied][0], loaded["apple", tied][0]
    hf_state, apple_state = hf.state_dict(), apple.state_dict()
    assert hf_state.keys() == apple_state.keys()
    assert all(torch.equal(hf_state[k], apple_state[k]) for k in hf_state)
    image, logits = _outputs(hf)
    assert image.shape == (2, 16, 64)
    assert logits.shape == (2, 20, 640)
    _assert_same_outputs(hf, apple)


def test_tied_and_untied_share_everything_but_the_head(loaded) -> None:
    tied, untied = loaded["hf", True][0], loaded["hf", False][0]
    _assert_close(_outputs(tied)[0], _outputs(untied)[0])
    assert tied.lm_head.weight is tied.model.language_model.embed_tokens.weight
    assert untied.lm_head.weight is not untied.model.language_model.embed_tokens.weight
    assert not torch.equal(untied.lm_head.weight, untied.model.language_model.embed_tokens.weight)


@pytest.mark.parametrize("tied", [True, False])
def test_meta_loading_matches_a_normally_built_model(tiny_dirs, loaded, tied: bool) -> None:
    model = loaded["hf", tied][0]
    reference = FastVlmForConditionalGeneration(tiny_config(tie_word_embeddings=tied)).eval()
    stored = load_file(tiny_dirs["hf", tied] / "model.safetensors")
    reference.load_state_dict(stored, strict=False)
    assert dict(reference.named_buffers()).keys() == dict(model.named_buffers()).keys()
    for name, buffer in reference.named_buffers():  # rotary inv_freq included
        assert torch.equal(buffer, model.get_buffer(name)), name
    assert not any(t.is_meta for t in (*model.parameters(), *model.buffers()))
    assert not model.training
    _assert_same_outputs(model, reference)


def test_multimodal_forward_with_image_tokens(loaded) -> None:
    model, info = loaded["hf", True]
    ids = torch.tensor([[5, 6, *[info.image_token_id] * info.num_image_tokens, 7]])
    with torch.no_grad():
        out = model(input_ids=ids, pixel_values=PIXELS[:1])
    assert out.logits.shape == (1, info.num_image_tokens + 3, 640)
    assert torch.isfinite(out.logits).all()


def test_load_info(loaded, tiny_dirs) -> None:
    for (layout, _), (_, info) in loaded.items():
        assert info.format is CheckpointFormat(layout)
        assert info.image_token_id == TINY_TOKENIZER_SIZE  # hf: <image>; apple: len(tokenizer)
        assert (info.image_size, info.num_image_tokens) == (256, 16)
        assert (info.image_mean, info.image_std) == ((0.0,) * 3, (1.0,) * 3)
    hashes = {info.content_hash for _, info in loaded.values()}
    assert len(hashes) == len(LAYOUTS)
    assert checkpoint_hash(tiny_dirs["hf", True]) == loaded["hf", True][1].content_hash


def test_image_normalisation_is_read_without_loading_the_model(tmp_path: Path) -> None:
    assert image_normalisation(tmp_path) == ((0.0,) * 3, (1.0,) * 3)  # FastVLM's, when unsaid
    settings = {"crop_size": {"height": 64, "width": 64}, "image_mean": [0.5, 0.4, 0.3],
                "image_std": [0.2, 0.2, 0.25]}  # fmt: skip
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(settings))
    assert image_normalisation(tmp_path) == ((0.5, 0.4, 0.3), (0.2, 0.2, 0.25))


def test_bfloat16_loading_casts_floats_only(tiny_dirs, loaded) -> None:
    model, _ = load_fastvlm_torch(tiny_dirs["apple", True], dtype=torch.bfloat16)
    dtypes = {t.dtype for t in model.state_dict().values()}
    assert dtypes == {torch.bfloat16, torch.int64}  # int64: BatchNorm's num_batches_tracked
    image, _ = _outputs(model)
    torch.testing.assert_close(
        image.float(), _outputs(loaded["apple", True][0])[0], atol=0.05, rtol=0.05
    )


def test_sharded_safetensors_with_index(tiny_dirs, tmp_path: Path) -> None:
    folder = _copy(tiny_dirs["hf", False], tmp_path / "sharded")
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    names = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": names[:40],
        "model-00002-of-00002.safetensors": names[40:],
    }
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, folder / file, metadata={"format": "pt"})
    weight_map = {k: file for file, keys in shards.items() for k in keys}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    read = read_state_dict(folder)
    assert read.keys() == state.keys()
    assert all(torch.equal(read[k], state[k]) for k in state)


def test_pickled_weights_need_allow_pickle(tiny_dirs, loaded, tmp_path: Path) -> None:
    folder = _copy(tiny_dirs["hf", True], tmp_path / "bin")
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"allow_pickle=True"):
        load_fastvlm_torch(folder)
    model, _ = load_fastvlm_torch(folder, allow_pickle=True)
    _assert_same_outputs(model, loaded["hf", True][0])


class _Payload:
    """Unpickling this would create a file: weights_only loading must refuse before it runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def test_malicious_pickle_is_refused_and_never_runs(tiny_dirs, tmp_path: Path) -> None:
    folder = _copy(tiny_dirs["hf", True], tmp_path / "evil")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pwned"
    torch.save({"weight": torch.zeros(2), "payload": _Payload(marker)}, folder / "model.bin")
    with pytest.raises(CheckpointError, match=r"refused .*model\.bin"):
        load_fastvlm_torch(folder, allow_pickle=True)
    assert not marker.exists()


# ----------------------------------------------------------------------------------- names

KNOWN_NAMES = [  # (Apple, transformers), from Apple's MCi model and Qwen2
    ("patch_embed.0.reparam_conv.weight", "stem.0.reparam_conv.weight"),
    ("network.0.1.layer_scale", "stages.0.blocks.1.layer_scale.gamma"),
    ("network.0.0.convffn.conv.bn.running_var", "stages.0.blocks.0.mlp.conv.bn.running_var"),
    ("network.1.proj.0.lkb_reparam.weight", "stages.1.downsample.proj.0.reparam_conv.weight"),
    ("network.1.proj.1.reparam_conv.bias", "stages.1.downsample.proj.1.reparam_conv.bias"),
    (
        "network.4.23.token_mixer.reparam_conv.weight",
        "stages.2.blocks.23.token_mixer.reparam_conv.weight",
    ),
    ("network.6.reparam_conv.weight", "stages.3.pos_emb.reparam_conv.weight"),
    ("network.7.3.layer_scale_2", "stages.3.blocks.3.layer_scale_2.gamma"),
    ("network.8.proj.0.lkb_reparam.bias", "stages.4.downsample.proj.0.reparam_conv.bias"),
    ("network.9.reparam_conv.bias", "stages.4.pos_emb.reparam_conv.bias"),
    ("network.10.1.token_mixer.proj.weight", "stages.4.blocks.1.token_mixer.proj.weight"),
    ("conv_exp.se.reduce.weight", "final_conv.se.fc1.weight"),
    ("conv_exp.se.expand.bias", "final_conv.se.fc2.bias"),
    ("conv_exp.reparam_conv.weight", "final_conv.reparam_conv.weight"),
]
KNOWN_TEXT_NAMES = [
    ("model.mm_projector.0.weight", "model.multi_modal_projector.linear_1.weight"),
    ("model.mm_projector.2.bias", "model.multi_modal_projector.linear_2.bias"),
    ("model.embed_tokens.weight", "model.language_model.embed_tokens.weight"),
    (
        "model.layers.11.self_attn.k_proj.bias",
        "model.language_model.layers.11.self_attn.k_proj.bias",
    ),
    ("model.layers.0.mlp.gate_proj.weight", "model.language_model.layers.0.mlp.gate_proj.weight"),
    ("model.norm.weight", "model.language_model.norm.weight"),
    ("lm_head.weight", "lm_head.weight"),
]


@pytest.mark.parametrize(
    ("apple", "hf"),
    [(APPLE_VISION + a, HF_VISION + h) for a, h in KNOWN_NAMES] + KNOWN_TEXT_NAMES,
)
def test_known_apple_names(apple: str, hf: str) -> None:
    assert apple_to_hf_key(apple) == hf
    assert hf_to_apple_key(hf) == apple


@pytest.mark.parametrize("size", ["tiny", "full"])
def test_name_mapping_round_trips_on_every_key(size: str, full_config: FastVlmConfig) -> None:
    keys = list(_meta_state(tiny_config() if size == "tiny" else full_config))
    apple = [hf_to_apple_key(k) for k in keys]
    assert len(set(apple)) == len(keys)
    assert [apple_to_hf_key(k) for k in apple] == keys
    vision = [k for k in apple if "vision_tower" in k]
    assert vision and all(k.startswith(APPLE_VISION) for k in vision)
    assert not any(k.startswith("model.language_model") for k in apple)


def test_convert_apple_state_dict_drops_the_clip_head() -> None:
    state = {
        APPLE_VISION + "head.proj": torch.zeros(1),
        APPLE_VISION + "conv_exp.reparam_conv.bias": torch.ones(1),
    }
    assert list(convert_apple_state_dict(state)) == [HF_VISION + "final_conv.reparam_conv.bias"]


# ----------------------------------------------------------------------------------- configs


def test_real_apple_config_is_full_size(full_config: FastVlmConfig) -> None:
    assert full_config.vision_config.architecture == "fastvit_mci3"
    assert full_config.vision_config.model_args == {"inference_mode": True}
    assert full_config.vision_config.hidden_size == 3072
    text = full_config.text_config
    assert (text.hidden_size, text.num_hidden_layers, text.vocab_size) == (896, 24, 151936)
    assert text.rope_parameters["rope_theta"] == 1_000_000.0
    assert full_config.tie_word_embeddings
    assert full_config.image_seq_length == 256
    assert full_config.image_token_index == 151936  # no tokenizer given: the sentinel


@pytest.mark.parametrize("tied", [True, False])
def test_config_round_trip(tied: bool) -> None:
    config = tiny_config(image_size=320, tie_word_embeddings=tied)
    apple = hf_config_to_apple(config)
    assert apple["mm_vision_tower"] == "mobileclip_l_320"
    back = apple_config_to_hf(apple, image_token_index=config.image_token_index)
    assert back.text_config.to_diff_dict() == config.text_config.to_diff_dict()
    assert back.vision_config.to_diff_dict() == config.vision_config.to_diff_dict()
    for field in ("image_token_index", "image_seq_length", "tie_word_embeddings"):
        assert getattr(back, field) == getattr(config, field)
    assert "mm_vision_model_args" not in hf_config_to_apple(
        apple_config_to_hf(FASTVLM_05B_APPLE_CONFIG)
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mm_projector_type", "linear", "mm_projector_type 'linear'"),
        ("mm_vision_tower", "openai/clip-vit-large-patch14", "mm_vision_tower 'openai/clip"),
        ("hidden_size", None, "lacks hidden_size"),
    ],
)
def test_unsupported_apple_configs(field: str, value: str | None, message: str) -> None:
    config = {**FASTVLM_05B_APPLE_CONFIG, field: value}
    if value is None:
        del config[field]
    with pytest.raises(CheckpointError, match=message):
        apple_config_to_hf(config)


# ----------------------------------------------------------------------------------- formats


def _mlx_folder(root: Path, **config: object) -> Path:
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"model_type": "llava_qwen2", **config}))
    save_file(
        {"language_model.model.embed_tokens.weight": torch.zeros(4, 2)}, root / "model.safetensors"
    )
    return root


def test_detect_format(tiny_dirs, tmp_path: Path) -> None:
    for (layout, _), folder in tiny_dirs.items():
        assert detect_format(folder) is CheckpointFormat(layout)
    assert detect_format(_mlx_folder(tmp_path / "mlx")) is CheckpointFormat.MLX
    quantized = _copy(tiny_dirs["apple", True], tmp_path / "quantized")
    config = json.loads((quantized / "config.json").read_text())
    (quantized / "config.json").write_text(json.dumps({**config, "quantization": {"bits": 4}}))
    assert detect_format(quantized) is CheckpointFormat.MLX


def test_torch_refuses_mlx_folders(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"backend='mlx'"):
        load_fastvlm_torch(_mlx_folder(tmp_path / "mlx"))


# ----------------------------------------------------------------------------------- conversion


@pytest.mark.parametrize("tied", [True, False])
def test_converted_folder_loads_with_from_pretrained(tiny_dirs, loaded, tied, tmp_path) -> None:
    dst = convert_checkpoint(tiny_dirs["apple", tied], tmp_path / "hf")
    assert detect_format(dst) is CheckpointFormat.HF
    model, loading = FastVlmForConditionalGeneration.from_pretrained(dst, output_loading_info=True)
    assert not any(loading.values()), loading
    _assert_same_outputs(model.eval(), loaded["apple", tied][0])

    tokenizer = load_tokenizer(dst)
    image_id = tokenizer.convert_tokens_to_ids("<image>")
    assert image_id == model.config.image_token_index == TINY_TOKENIZER_SIZE
    text = tokenizer("Click the OK button.", return_tensors="pt").input_ids
    ids = torch.cat([torch.full((1, 16), image_id), text], dim=1)
    ours, _ = load_fastvlm_torch(dst)
    with torch.no_grad():
        want = model(input_ids=ids, pixel_values=PIXELS[:1]).logits
        got = ours(input_ids=ids, pixel_values=PIXELS[:1]).logits
    _assert_close(got, want)

    back = convert_checkpoint(dst, tmp_path / "apple", to="apple")
    original = load_file(tiny_dirs["apple", tied] / "model.safetensors")
    original.pop(APPLE_VISION + "head.proj")
    assert load_file(back / "model.safetensors").keys() == original.keys()


def test_convert_refuses_to_overwrite_or_to_convert_to_the_same_format(tiny_dirs, tmp_path) -> None:
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not empty"):
        convert_checkpoint(tiny_dirs["apple", True], dst)
    convert_checkpoint(tiny_dirs["apple", True], dst, overwrite=True)
    assert (dst / "notes.txt").exists() and detect_format(dst) is CheckpointFormat.HF
    with pytest.raises(CheckpointError, match="already in hf format"):
        convert_checkpoint(tiny_dirs["hf", True], tmp_path / "again")
    with pytest.raises(CheckpointError, match="into itself"):
        convert_checkpoint(tiny_dirs["apple", True], tiny_dirs["apple", True], overwrite=True)
    with pytest.raises(CheckpointError, match="not 'onnx'"):  # mlx: tests/perception/test_mlx_*
        convert_checkpoint(tiny_dirs["apple", True], tmp_path / "onnx", to="onnx")


def test_convert_casts_to_a_smaller_dtype_in_the_same_layout(tiny_dirs, loaded, tmp_path) -> None:
    dst = convert_checkpoint(tiny_dirs["hf", True], tmp_path / "half", dtype="float16")
    stored = load_file(dst / "model.safetensors")
    original = load_file(tiny_dirs["hf", True] / "model.safetensors")
    assert stored.keys() == original.keys()
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    model, _ = load_fastvlm_torch(dst)  # read back as float32
    reference = loaded["hf", True][0]
    with torch.no_grad():
        ids = torch.tensor([[1, 2, 3]])
        got, want = model(input_ids=ids).logits, reference(input_ids=ids).logits
    torch.testing.assert_close(got, want, rtol=0, atol=1e-2 * float(want.abs().max()))
    assert not torch.equal(got, want)  # the weights were rounded
    with pytest.raises(CheckpointError, match="dtype must be one of"):
        convert_checkpoint(tiny_dirs["hf", True], tmp_path / "x", dtype="int8")


# ----------------------------------------------------------------------------------- tiny


def test_tiny_checkpoints_are_deterministic(tmp_path: Path) -> None:
    first = save_tiny_checkpoint(tmp_path / "a", "apple", seed=3)
    again = save_tiny_checkpoint(tmp_path / "b", "apple", seed=3)
    other = save_tiny_checkpoint(tmp_path / "c", "apple", seed=4)
    weights = [(f / "model.safetensors").read_bytes() for f in (first, again, other)]
    assert weights[0] == weights[1] != weights[2]
    assert checkpoint_hash(first) == checkpoint_hash(again) != checkpoint_hash(other)


def test_hf_tokenizers_have_an_image_token_and_apple_ones_do_not(tiny_dirs) -> None:
    hf, apple = load_tokenizer(tiny_dirs["hf", True]), load_tokenizer(tiny_dirs["apple", True])
    assert hf("a <image> b").input_ids.count(TINY_TOKENIZER_SIZE) == 1
    assert len(hf) == len(apple) + 1 == TINY_TOKENIZER_SIZE + 1
    assert "<image>" not in apple.get_vocab()


def test_tiny_tokenizer() -> None:
    tokenizer = tiny_tokenizer()
    assert tokenizer.backend_tokenizer.to_str() == tiny_tokenizer().backend_tokenizer.to_str()
    assert len(tokenizer) == TINY_TOKENIZER_SIZE
    assert tokenizer.eos_token == "<|im_end|>"
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "click(512, 300)"}], add_generation_prompt=True, tokenize=False
    )
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    assert prompt.endswith("<|im_start|>user\nclick(512, 300)<|im_end|>\n<|im_start|>assistant\n")
    ids = tokenizer(prompt).input_ids
    assert tokenizer.decode(ids) == prompt
    assert max(ids) < TINY_TOKENIZER_SIZE


# ----------------------------------------------------------------------------------- errors


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_fastvlm_torch(tmp_path / "nowhere")


def test_hub_name_explains_how_to_download(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as error:
        load_fastvlm_torch("apple/FastVLM-0.5B")
    message = str(error.value)
    assert "never downloads" in message
    assert "huggingface-cli download apple/FastVLM-0.5B --local-dir DIR" in message
    assert "hf download apple/FastVLM-0.5B" in message


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: (f / "config.json").unlink(), "has no config.json"),
        (
            lambda f: (f / "config.json").write_text('{"model_type": "llama"}'),
            r"model_type 'llama'; supported: fast_vlm, fastvlm, llava_qwen2",
        ),
        (lambda f: (f / "model.safetensors").unlink(), r"holds no weights"),
    ],
    ids=["no-config", "unknown-model-type", "no-weights"],
)
def test_broken_folders(tiny_dirs, tmp_path: Path, edit, message: str) -> None:
    folder = _copy(tiny_dirs["hf", True], tmp_path / "broken")
    edit(folder)
    with pytest.raises(CheckpointError, match=message):
        load_fastvlm_torch(folder)


@pytest.mark.parametrize("layout", ["hf", "apple"])
def test_truncated_safetensors(tiny_dirs, tmp_path: Path, layout: str) -> None:
    folder = _copy(tiny_dirs[layout, True], tmp_path / "cut")
    file = folder / "model.safetensors"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated.*re-download"):
        load_fastvlm_torch(folder)


def test_wrong_shape_names_key_and_shapes(tiny_dirs, tmp_path: Path) -> None:
    folder = _copy(tiny_dirs["hf", True], tmp_path / "shape")
    key = "model.multi_modal_projector.linear_2.weight"
    _edit_weights(folder, lambda s: s.update({key: torch.zeros(64, 32)}))
    with pytest.raises(CheckpointError, match=rf"{key} expected \(64, 64\), found \(64, 32\)"):
        load_fastvlm_torch(folder)


def test_missing_and_unexpected_keys_are_named(tiny_dirs, tmp_path: Path) -> None:
    folder = _copy(tiny_dirs["apple", True], tmp_path / "keys")
    gone = "model.layers.1.mlp.up_proj.weight"
    _edit_weights(folder, lambda s: s.update({"model.extra.weight": s.pop(gone)}))
    with pytest.raises(CheckpointError) as error:
        load_fastvlm_torch(folder)
    assert f"1 missing: {apple_to_hf_key(gone)}" in str(error.value)
    assert "1 unexpected: model.extra.weight" in str(error.value)


def test_untied_model_without_head(tiny_dirs, tmp_path: Path) -> None:
    folder = _copy(tiny_dirs["hf", False], tmp_path / "headless")
    _edit_weights(folder, lambda s: s.pop("lm_head.weight"))
    with pytest.raises(CheckpointError, match=r"lm_head\.weight.*tie_word_embeddings is false"):
        load_fastvlm_torch(folder)


def test_missing_tokenizer(tiny_dirs, tmp_path: Path) -> None:
    folder = _copy(tiny_dirs["apple", True], tmp_path / "no-tokenizer")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match=r"missing tokenizer.*copy tokenizer\.json"):
        load_tokenizer(folder)
    _, info = load_fastvlm_torch(folder)
    assert info.image_token_id == 640  # no tokenizer: vocab_size, a sentinel never embedded


# ----------------------------------------------------------------------------------- full size


@pytest.mark.slow
def test_full_size_vision_path_gives_256_tokens_of_width_896(full_config: FastVlmConfig) -> None:
    with torch.device("meta"):
        model = FastVlmForConditionalGeneration(full_config)
    vision = {
        k: v
        for k, v in model.state_dict().items()
        if k.startswith(("model.vision_tower.", "model.multi_modal_projector."))
    }
    model.load_state_dict(random_state_dict(vision), strict=False, assign=True)
    model.eval()
    with torch.inference_mode():
        features = model.model.get_image_features(torch.rand(1, 3, 1024, 1024)).pooler_output
    assert features.shape == (1, 256, 896)
    assert torch.isfinite(features).all()
