"""Untrusted and broken checkpoint folders: each gives a CheckpointError that says what to do.

Everything goes through ``load_vlm``, the call users make; nothing here ever runs code from the
folder (pickles, ``auto_map`` modules).
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from perception.base import load_vlm
from perception.errors import CheckpointError
from perception.tiny import save_tiny_checkpoint

KEY = "model.multi_modal_projector.linear_2.weight"
Edit = Callable[[Path], object]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "hf")


@pytest.fixture
def copy(tiny: Path, tmp_path: Path) -> Callable[[], Path]:
    return lambda: Path(shutil.copytree(tiny, tmp_path / "ckpt"))


def _weights(edit: Callable[[dict[str, torch.Tensor]], object]) -> Edit:
    def apply(folder: Path) -> None:
        file = folder / "model.safetensors"
        state = load_file(file)
        edit(state)
        save_file(state, file, metadata={"format": "pt"})

    return apply


def _cut(keep: Callable[[int], int]) -> Edit:
    def apply(folder: Path) -> None:
        file = folder / "model.safetensors"
        data = file.read_bytes()
        file.write_bytes(data[: keep(len(data))])

    return apply


def _config(edit: Callable[[dict], object]) -> Edit:
    def apply(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        edit(config)
        (folder / "config.json").write_text(json.dumps(config))

    return apply


def _header_dtype(folder: Path) -> None:
    """A header that names a dtype safetensors does not know (same length, data untouched)."""
    file = folder / "model.safetensors"
    raw = file.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = raw[8 : 8 + length].replace(b'"F32"', b'"X99"', 1)
    file.write_bytes(raw[:8] + header + raw[8 + length :])


def _unlink(*names: str) -> Edit:
    return lambda folder: [(folder / n).unlink(missing_ok=True) for n in names]


CASES: dict[str, tuple[Edit, str]] = {
    "truncated-prefix": (_cut(lambda n: 3), r"truncated or corrupted.*re-download it"),
    "truncated-header": (_cut(lambda n: 200), r"truncated or corrupted.*re-download it"),
    "truncated-data": (_cut(lambda n: n - 1), r"truncated.*expected \d+ bytes, found \d+"),
    "empty-file": (_cut(lambda n: 0), r"truncated or corrupted.*re-download it"),
    "unknown-dtype-in-header": (_header_dtype, r"cannot read .*X99.*re-download it"),
    "int-weights": (
        _weights(lambda s: s.update({KEY: s[KEY].to(torch.int32)})),
        rf"wrong dtype: {KEY} expected floating point, found int32",
    ),
    "bool-weights": (
        _weights(lambda s: s.update({KEY: s[KEY] > 0})),
        rf"wrong dtype: {KEY} expected floating point, found bool",
    ),
    "wrong-shape": (
        _weights(lambda s: s.update({KEY: torch.zeros(64, 32)})),
        rf"{KEY} expected \(64, 64\), found \(64, 32\)",
    ),
    "missing-tokenizer": (
        _unlink("tokenizer.json", "vocab.json", "merges.txt"),
        r"missing tokenizer.*copy tokenizer\.json",
    ),
    "unknown-architecture": (
        _config(lambda c: c.update(architectures=["EvilForCausalLM"])),
        r"names the architecture EvilForCausalLM, not FastVLM",
    ),
    "unknown-model-type": (
        _config(lambda c: c.update(model_type="llama")),
        r"model_type 'llama'; supported: fast_vlm",
    ),
    "unknown-vision-architecture": (
        _config(lambda c: c["vision_config"].update(architecture="resnet_evil")),
        r"cannot build the model.*resnet_evil.*fastvit_mci3.*original download",
    ),
    "unknown-text-model": (
        _config(lambda c: c["text_config"].update(model_type="gpt_evil")),
        r"invalid config\.json .*gpt_evil",
    ),
    "config-not-json": (
        lambda f: (f / "config.json").write_text("{nope"),
        r"cannot read .*config\.json",
    ),
    "no-weights": (_unlink("model.safetensors"), r"holds no weights"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_checkpoint_gives_a_checkpoint_error_that_says_what_to_do(case: str, copy) -> None:
    edit, message = CASES[case]
    folder = copy()
    edit(folder)
    with pytest.raises(CheckpointError, match=message):
        load_vlm(folder, backend="torch", device="cpu")


def test_a_float64_copy_is_not_an_error_it_is_cast(copy) -> None:
    folder = copy()
    _weights(lambda s: s.update({KEY: s[KEY].double()}))(folder)
    vlm = load_vlm(folder, backend="torch", device="cpu")
    assert vlm.model.get_parameter(KEY).dtype == torch.float32


class _Payload:
    """Unpickling this would create ``marker``: the loader must refuse before it runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("allow_pickle", [False, True])
def test_a_code_running_pickle_never_runs(copy, tmp_path: Path, allow_pickle: bool) -> None:
    folder = copy()
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pwned"
    state = {"model.language_model.norm.weight": torch.ones(64), "x": _Payload(marker)}
    torch.save(state, folder / "pytorch_model.bin")
    message = r"refused .*pytorch_model\.bin" if allow_pickle else r"can run code.*safetensors"
    with pytest.raises(CheckpointError, match=message):
        load_vlm(folder, backend="torch", device="cpu", allow_pickle=allow_pickle)
    assert not marker.exists()


def test_auto_map_code_in_the_folder_never_runs(copy, tmp_path: Path) -> None:
    """transformers' remote code (``auto_map`` + a .py file) is not trusted, so never imported."""
    folder = copy()
    marker = tmp_path / "pwned"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w')\n")
    _config(lambda c: c.update(auto_map={"AutoModel": "evil.Model", "AutoConfig": "evil.C"}))(
        folder
    )
    tok = json.loads((folder / "tokenizer_config.json").read_text())
    tok["auto_map"] = {"AutoTokenizer": ["evil.Tokenizer", None]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok))
    try:
        load_vlm(folder, backend="torch", device="cpu")
    except CheckpointError as err:  # refusing is fine too; running the code is not
        assert "evil" in str(err) or "remote" in str(err)
    assert not marker.exists()
