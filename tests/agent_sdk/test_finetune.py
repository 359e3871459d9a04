"""Fine-tuning a checkpoint folder (``--init``), fully and with LoRA, on tiny models."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from agent_sdk.cli import app
from agent_sdk.collect import CollectConfig, collect, read_examples, read_manifest
from agent_sdk.errors import ConfigError
from agent_sdk.train import NUMBERS, TrainConfig, Trainer, loop, train
from agent_sdk.train.model import (
    has_number_tokens,
    instruction_words,
    shrink_llm,
    unfold_vision_tower,
)
from perception import load_vlm
from perception.checkpoints import load_fastvlm_torch, load_tokenizer
from perception.tiny import save_tiny_checkpoint
from perception.torch_backend import TorchVLM, image_features

LLM = "model.language_model."

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def data(demos: Path) -> Path:
    return demos


@pytest.fixture(scope="module", params=["hf", "apple"])
def init(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real-layout checkpoint with its own tokenizer (4 image tokens at 128 px)."""
    folder = tmp_path_factory.mktemp("init") / request.param
    return save_tiny_checkpoint(folder, layout=request.param, image_size=128, seed=3)


def _config(data: Path, init: Path, **changes: object) -> TrainConfig:
    base = dict(data=(str(data),), init=str(init), steps=4, batch_size=4, lr=3e-3, warmup=1,
                save_every=100, log_every=1, eval_episodes=0, max_examples=8)  # fmt: skip
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def _tensors(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def _greedy(vlm: TorchVLM, data: Path) -> list[list[int]]:
    examples = list(read_examples(data))[:2]
    gens = vlm.generate([e.image for e in examples], [e.prompt for e in examples],
                        max_new_tokens=6)  # fmt: skip
    return [g.token_ids for g in gens]


def _assert_same_weights(a: Path, b: Path) -> None:
    ta, tb = _tensors(a), _tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        torch.testing.assert_close(ta[k], tb[k], rtol=0, atol=1e-6, msg=k)


# -- full fine-tuning -----------------------------------------------------------------------------
def test_full_finetune_learns_keeps_the_tokenizer_and_loads(
    data: Path, init: Path, tmp_path: Path
) -> None:
    record = train(_config(data, init, steps=8, max_examples=4), tmp_path / "ft")
    losses = [row[1] for row in record["loss_curve"]]
    assert len(losses) == 8 and sum(losses[-2:]) < 0.6 * sum(losses[:2])
    assert record["model"]["trainable_parameters"] == record["model"]["parameters"]
    original, tuned = load_tokenizer(init).get_vocab(), load_tokenizer(tmp_path / "ft").get_vocab()
    original.setdefault("<image>", 512)  # apple folders have none; saving adds it
    assert tuned == original  # the init folder's tokenizer, not a newly trained BPE
    vlm = load_vlm(tmp_path / "ft", device="cpu")
    assert vlm.num_image_tokens == 4 and tuned["<image>"] == vlm.info.image_token_id == 512
    gen = vlm.generate(next(iter(read_examples(data))).image, "Click OK", max_new_tokens=4)
    assert gen.timings.num_prompt_tokens > 4 and len(gen.token_ids) <= 4


def test_finetune_adds_number_tokens_keeping_the_old_ids(
    data: Path, init: Path, tmp_path: Path
) -> None:
    before = load_tokenizer(init).get_vocab()
    train(_config(data, init, number_tokens=True, steps=2), tmp_path / "nt")
    tok = load_tokenizer(tmp_path / "nt")
    vocab = tok.get_vocab()
    assert has_number_tokens(tok)
    assert all(vocab[t] == i for t, i in before.items())  # the old tokens keep their ids
    vlm = load_vlm(tmp_path / "nt", device="cpu")
    image_id = vlm.info.image_token_id
    assert vocab["<image>"] == image_id and image_id not in {vocab[n] for n in NUMBERS}
    rows = vlm.model.get_input_embeddings().weight.shape[0]
    assert rows >= len(tok) and rows % 64 == 0
    assert {"512", "300"} <= set(tok.tokenize("click(512, 300)"))
    ex = next(iter(read_examples(data)))
    gen = vlm.generate(ex.image, ex.prompt, max_new_tokens=4)
    assert len(gen.token_ids) <= 4
    with pytest.raises(ConfigError, match="--number-tokens"):
        _config(data, init, number_tokens=True, lora_rank=2)


def test_finetune_adds_word_tokens_that_start_as_their_pieces(
    data: Path, init: Path, tmp_path: Path
) -> None:
    old = load_tokenizer(init)
    before, examples = old.get_vocab(), list(read_examples(data))[:8]
    trainer = Trainer(_config(data, init, word_tokens=1, steps=2), tmp_path / "wt")
    tok, vocab = trainer.tokenizer, trainer.tokenizer.get_vocab()
    new = [w for w in vocab if w not in before and w != "<image>"]
    assert new and set(new) <= set(instruction_words((ex.instruction for ex in examples), 1, ""))
    assert all(vocab[t] == i for t, i in before.items())  # the old tokens keep their ids
    assert vocab["<image>"] == trainer.model.config.image_token_id not in {vocab[w] for w in new}
    base = load_fastvlm_torch(init, dtype=torch.float32)[0].get_input_embeddings().weight
    embed = trainer.model.get_input_embeddings().weight.detach()
    for word in new[:5]:  # each starts as the mean of the pieces it was made of
        pieces = old(word, add_special_tokens=False).input_ids
        torch.testing.assert_close(embed[vocab[word]], base[pieces].mean(0).detach())
        assert word in tok.tokenize(f"({word}.")  # one token, as a whole word
    for ex in examples:  # lossless, and shorter
        text = ex.prompt + ex.target
        ids = tok(text, add_special_tokens=False).input_ids
        assert tok.decode(ids) == text and len(ids) <= len(old(text).input_ids)
    trainer.train_step()
    trainer.save()
    vlm = load_vlm(tmp_path / "wt", device="cpu")
    assert set(new) <= set(vlm.tokenizer.get_vocab())
    assert len(vlm.generate(examples[0].image, examples[0].prompt, max_new_tokens=4).token_ids)
    with pytest.raises(ConfigError, match="--word-tokens"):
        _config(data, init, word_tokens=2, lora_rank=2)


def test_full_finetune_resumes_exactly(data: Path, init: Path, tmp_path: Path) -> None:
    train(_config(data, init), tmp_path / "a")
    train(_config(data, init, save_every=2), tmp_path / "b", until=2)
    resumed = train(_config(data, init, save_every=2), tmp_path / "b", resume=True)
    assert resumed["resumed_at"] == [2] and resumed["steps_done"] == 4
    _assert_same_weights(tmp_path / "a", tmp_path / "b")


# -- the vision tower unfolded for training -------------------------------------------------------
def _norms(model: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_unfolded_tower_computes_what_the_folder_does_and_folds_back(
    data: Path, init: Path, tmp_path: Path
) -> None:
    folder = load_vlm(init, device="cpu")
    trainer = Trainer(_config(data, init, unfold_tower=True, steps=3), tmp_path / "u")
    tower = trainer.model.model.vision_tower.timm_model
    assert _norms(tower) > _norms(folder.model.model.vision_tower.timm_model)  # BatchNorm again
    trainer.model.eval()
    images = [ex.image for ex in read_examples(data)][:4]
    live = TorchVLM(trainer.model, folder.tokenizer, folder.info, torch.device("cpu"))
    want, got = image_features(folder, images), image_features(live, images)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * float(np.abs(want).max()))
    assert _greedy(live, data) == _greedy(folder, data)
    trainer.save()  # folded back: the folder's weights
    saved, original = _tensors(tmp_path / "u"), load_fastvlm_torch(init)[0].state_dict()
    assert saved.keys() <= original.keys()
    for k, v in saved.items():
        torch.testing.assert_close(v, original[k], rtol=0, atol=2e-5, msg=k)
    trainer.train_mode()
    losses = [trainer.train_step()[0] for _ in range(3)]
    trainer.save()
    assert all(np.isfinite(losses))
    tuned = _tensors(tmp_path / "u")
    changed = [k for k in tuned if "vision_tower" in k and not torch.equal(tuned[k], original[k])]
    assert changed  # the tower trains
    assert load_vlm(tmp_path / "u", device="cpu").model.config.vision_config.model_args[
        "inference_mode"
    ]


def test_unfolded_tower_resumes_exactly(data: Path, init: Path, tmp_path: Path) -> None:
    train(_config(data, init, unfold_tower=True), tmp_path / "a")
    train(_config(data, init, unfold_tower=True, save_every=2), tmp_path / "b", until=2)
    with pytest.raises(ConfigError, match=r"full, --unfold-tower\), not"):  # another model
        train(_config(data, init, save_every=2), tmp_path / "b", resume=True)
    resumed = train(_config(data, init, unfold_tower=True, save_every=2), tmp_path / "b",
                    resume=True)  # fmt: skip
    assert resumed["resumed_at"] == [2] and resumed["steps_done"] == 4
    _assert_same_weights(tmp_path / "a", tmp_path / "b")


# -- a frozen vision tower, its features computed once -------------------------------------------
def test_frozen_tower_trains_on_its_features_and_keeps_the_tower(
    data: Path, init: Path, tmp_path: Path
) -> None:
    trainer = Trainer(_config(data, init, freeze_tower=True, copy_text=0.5), tmp_path / "f")
    index = list(range(4))
    cached = trainer._collate(index)
    assert cached["pixels"].numel() == 0 and cached["features"].dtype == torch.float16
    trainer.model.eval()
    with torch.no_grad():  # the same loss as from the pixels, up to float16 features
        from_features, _ = loop.answer_loss(trainer.model, cached)
        plain = loop.collate(trainer.data, index, int(trainer.tokenizer.pad_token_id or 0))
        from_pixels, _ = loop.answer_loss(trainer.model, plain, channels_last=True)
    torch.testing.assert_close(from_features, from_pixels, rtol=1e-3, atol=1e-3)
    trainer.train_mode()
    assert not trainer.model.model.vision_tower.training
    losses = [trainer.train_step()[0] for _ in range(4)]
    trainer.save()
    assert all(np.isfinite(losses))
    tuned, original = _tensors(tmp_path / "f"), load_fastvlm_torch(init)[0].state_dict()
    for k, v in tuned.items():
        if "vision_tower" in k:
            assert torch.equal(v, original[k]), k  # frozen: bit for bit
    assert any(not torch.equal(v, original[k]) for k, v in tuned.items() if k.startswith(LLM))
    assert any(not torch.equal(v, original[k]) for k, v in tuned.items() if "projector" in k)


def test_frozen_tower_sees_spotlit_and_grounding_pixels(
    data: Path, init: Path, tmp_path: Path
) -> None:
    trainer = Trainer(_config(data, init, freeze_tower=True, spotlight=1.0, ground=0.5),
                      tmp_path / "f")  # fmt: skip
    index = list(range(len(trainer.data)))
    rng = np.random.default_rng(0)
    batch = trainer._collate(index, loop.Spotlight(1.0, rng), loop.Grounding(0.5, rng))
    pad = int(trainer.tokenizer.pad_token_id or 0)
    rng = np.random.default_rng(0)  # the same draws: the pixels the tower saw
    plain = loop.collate(trainer.data, index, pad, loop.Spotlight(1.0, rng),
                         loop.Grounding(0.5, rng))  # fmt: skip
    assert batch["pixels"].numel() == 0 and torch.equal(batch["ids"], plain["ids"])
    expected = loop.tower_features(trainer.model, plain["pixels"], trainer.mean, trainer.std,
                                   trainer.config.channels_last)  # fmt: skip
    torch.testing.assert_close(batch["features"], expected)
    changed = (plain["pixels"] != trainer.data.pixels[index]).flatten(1).any(1)
    assert changed.any()  # those rows' features are the augmented pixels', not the cache's
    assert not torch.equal(batch["features"][changed], trainer.features[index][changed])
    trainer.train_mode()
    losses = [trainer.train_step()[0] for _ in range(2)]
    trainer.save()
    assert all(np.isfinite(losses))
    tuned, original = _tensors(tmp_path / "f"), load_fastvlm_torch(init)[0].state_dict()
    assert all(torch.equal(v, original[k]) for k, v in tuned.items() if "vision_tower" in k)


def test_frozen_tower_resumes_exactly_and_refuses_what_trains_the_tower(
    data: Path, init: Path, tmp_path: Path
) -> None:
    train(_config(data, init, freeze_tower=True), tmp_path / "a")
    train(_config(data, init, freeze_tower=True, save_every=2), tmp_path / "b", until=2)
    with pytest.raises(ConfigError, match=r"--freeze-tower\), not"):
        train(_config(data, init, save_every=2), tmp_path / "b", resume=True)
    resumed = train(_config(data, init, freeze_tower=True, save_every=2), tmp_path / "b",
                    resume=True)  # fmt: skip
    assert resumed["resumed_at"] == [2] and resumed["steps_done"] == 4
    _assert_same_weights(tmp_path / "a", tmp_path / "b")
    with pytest.raises(ConfigError, match="--init"):
        TrainConfig(data=(str(data),), size="tiny", freeze_tower=True)
    for flag, change in [
        ("--screen-labels", {"screen_labels": 1.0}),
        ("--lora", {"lora_rank": 2}),
        ("--unfold-tower", {"unfold_tower": True}),
    ]:
        with pytest.raises(ConfigError, match=flag):
            _config(data, init, freeze_tower=True, **change)


def test_feature_cache_reads_back_what_this_tower_computed(
    data: Path, init: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    cache = tmp_path / "cache"
    config = _config(data, init, freeze_tower=True, feature_cache=str(cache), max_examples=None)
    first = Trainer(config, tmp_path / "a")
    written = sorted(cache.iterdir())
    assert [p.name.split("-")[0] for p in written] == [read_manifest(data)["hash"]]
    computed = []
    features_of = Trainer._features_of
    monkeypatch.setattr(Trainer, "_features_of",
                        lambda self, *a: computed.append(a) or features_of(self, *a))  # fmt: skip
    again = Trainer(config, tmp_path / "b")
    assert computed == [] and torch.equal(again.features, first.features)
    more = collect(CollectConfig(env_ids=("agent_sdk/ui-click-button-v0",), episodes=1),
                   tmp_path / "more")  # fmt: skip
    prefix = dataclasses.replace(config, data=(str(data), str(tmp_path / "more")), max_examples=5)
    trainer = Trainer(prefix, tmp_path / "c")  # the second folder's examples all cut off
    assert more["examples"] and trainer.rows[1][1:] == (5, 5, False) and computed == []
    assert torch.equal(trainer.features, first.features[:5])
    other = save_tiny_checkpoint(tmp_path / "other", layout="hf", image_size=128, seed=4)
    Trainer(dataclasses.replace(config, init=str(other)), tmp_path / "d")  # another tower
    assert computed == [(0, len(first.data))] and len(list(cache.iterdir())) == 2
    written[0].write_bytes(b"not safetensors")
    with caplog.at_level("WARNING"):
        mended = Trainer(config, tmp_path / "e")
    assert "unreadable" in caplog.text and len(computed) == 2
    assert torch.equal(mended.features, first.features)
    assert Trainer(config, tmp_path / "f").features.shape == first.features.shape
    assert len(computed) == 2  # the mended file is read
    with pytest.raises(ConfigError, match="--freeze-tower"):
        _config(data, init, feature_cache=str(cache))


def test_unfold_tower_needs_a_checkpoint_trained_fully(data: Path, init: Path) -> None:
    with pytest.raises(ConfigError, match="--init"):
        TrainConfig(data=(str(data),), size="tiny", unfold_tower=True)
    with pytest.raises(ConfigError, match="--lora"):
        _config(data, init, unfold_tower=True, lora_rank=2)
    model = load_fastvlm_torch(init)[0]  # a tower in train-time form already
    vision = model.config.vision_config
    vision.model_args = {**(vision.model_args or {}), "inference_mode": False}
    with pytest.raises(ConfigError, match="nothing to unfold"):
        unfold_vision_tower(model, [])


def test_vision_from_takes_a_donors_tower_and_projector_and_keeps_the_llm(
    data: Path, init: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    donor = save_tiny_checkpoint(tmp_path / "donor", image_size=128, seed=4)
    trainer = Trainer(_config(data, init, vision_from=str(donor)), tmp_path / "v")
    mine, theirs, base = (m.state_dict() for m in (
        trainer.model, load_fastvlm_torch(donor)[0], load_fastvlm_torch(init)[0]))  # fmt: skip
    vision = [k for k in mine if k.startswith(("model.vision_tower", "model.multi_modal"))]
    assert vision and all(torch.equal(mine[k], theirs[k]) for k in vision)
    assert any(not torch.equal(mine[k], base[k]) for k in vision)  # the donor differs
    assert all(torch.equal(v, base[k]) for k, v in mine.items() if k not in vision)
    train(_config(data, init, vision_from=str(donor)), tmp_path / "a")
    train(_config(data, init, vision_from=str(donor), save_every=2), tmp_path / "b", until=2)
    with pytest.raises(ConfigError, match="vision from"):  # the same init, another tower
        train(_config(data, init, save_every=2), tmp_path / "b", resume=True)
    train(_config(data, init, vision_from=str(donor), save_every=2), tmp_path / "b", resume=True)
    _assert_same_weights(tmp_path / "a", tmp_path / "b")
    wide = save_tiny_checkpoint(tmp_path / "wide", image_size=256, seed=4)
    with pytest.raises(ConfigError, match="sees 16 image tokens a screen"):
        Trainer(_config(data, init, vision_from=str(wide)), tmp_path / "w")
    load = loop.load_fastvlm_torch

    def narrower(folder: Path, **kwargs: Any) -> Any:  # the donor's projector, for another LLM
        model, info = load(folder, **kwargs)
        if Path(folder) == donor:
            model.model.multi_modal_projector.linear_2 = torch.nn.Linear(64, 32)
        return model, info

    monkeypatch.setattr(loop, "load_fastvlm_torch", narrower)
    with pytest.raises(ConfigError, match=r"multi_modal_projector does not fit .*\(2 tensors "
                                          r"differ, e.g. linear_2.bias\)"):  # fmt: skip
        Trainer(_config(data, init, vision_from=str(donor)), tmp_path / "o")
    with pytest.raises(ConfigError, match="--init"):
        TrainConfig(data=(str(data),), size="tiny", vision_from=str(donor))
    with pytest.raises(ConfigError, match="--lora"):
        _config(data, init, vision_from=str(donor), lora_rank=2)


def test_shrink_llm_moves_the_llm_towards_a_new_init_and_keeps_the_rest(
    data: Path, init: Path, tmp_path: Path
) -> None:
    base = load_fastvlm_torch(init)[0]
    trainer = Trainer(_config(data, init, shrink_llm=0.25, seed=5), tmp_path / "s")
    torch.manual_seed(5)  # the new init shrink_llm draws, seeded by the run's seed
    new = type(base.model.language_model)(base.model.language_model.config)
    mine, old, fresh = (dict(m.named_parameters()) for m in (
        trainer.model.model.language_model, base.model.language_model, new))  # fmt: skip
    for name, weight in mine.items():
        want = old[name] if "norm" in name else 0.25 * old[name] + 0.75 * fresh[name]
        torch.testing.assert_close(weight, want, rtol=0, atol=1e-6, msg=name)
    assert any(not torch.equal(mine[n], old[n]) for n in mine if "norm" not in n)
    kept = base.state_dict()
    for k, v in trainer.model.state_dict().items():
        if not k.startswith(LLM) and k != "lm_head.weight":
            assert torch.equal(v, kept[k]), k  # the tower and projector as they were
    train(_config(data, init, shrink_llm=0.25, save_every=2), tmp_path / "b", until=2)
    with pytest.raises(ConfigError, match=r"--shrink-llm 0.25\), not"):
        train(_config(data, init, save_every=2), tmp_path / "b", resume=True)
    with pytest.raises(ConfigError, match="--init"):
        TrainConfig(data=(str(data),), size="tiny", shrink_llm=0.5)
    with pytest.raises(ConfigError, match="--lora"):
        _config(data, init, shrink_llm=0.5, lora_rank=2)
    with pytest.raises(ConfigError, match=r"in \[0, 1\], got 1.5"):
        _config(data, init, shrink_llm=1.5)


def test_shrink_llm_at_1_changes_nothing_and_leaves_the_global_rng(init: Path) -> None:
    model = load_fastvlm_torch(init)[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    shrink_llm(model, 1.0)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    shrink_llm(model, 0.5, seed=3)
    assert torch.equal(torch.rand(2), expected)
    with pytest.raises(ConfigError, match=r"got -0\.1"):
        shrink_llm(model, -0.1)


# -- LoRA -----------------------------------------------------------------------------------------
def test_lora_trains_adapters_only_and_saves_a_merged_checkpoint(
    data: Path, init: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rank = 4
    trainer = Trainer(_config(data, init, lora_rank=rank, steps=3), tmp_path / "lora")
    named = dict(trainer.model.named_parameters())
    trainable = {n for n, p in named.items() if p.requires_grad}
    adapters = {n for n in trainable if ".lora_" in n}
    assert trainable - adapters == {n for n in named if n.startswith("model.multi_modal_projector")}
    layers = [m for n, m in trainer.model.named_modules() if n.endswith(".base_layer")]
    assert len(layers) == 7 * 2  # q k v o gate up down, two layers
    assert sum(named[n].numel() for n in adapters) == sum(
        rank * (m.in_features + m.out_features) for m in layers
    )
    frozen = {n: p.detach().clone() for n, p in named.items() if not p.requires_grad}
    lora_b = {n: p.detach().clone() for n, p in named.items() if ".lora_B." in n}
    for _ in range(3):
        trainer.train_step()
    for n, before in frozen.items():
        torch.testing.assert_close(named[n], before, rtol=0, atol=0, msg=n)
    assert all(not torch.equal(named[n], b) for n, b in lora_b.items())  # adapters learnt

    trainer.out.mkdir()
    trainer.save()
    base = load_fastvlm_torch(init)[0].state_dict()
    del base["lm_head.weight"]  # tied to the embeddings: not stored
    merged = _tensors(trainer.out)
    assert merged.keys() == base.keys()  # no lora_ / base_layer names: plain fast_vlm
    q = "model.language_model.layers.0.self_attn.q_proj.weight"
    peft_q = trainer.model.model.language_model.base_model.model.layers[0].self_attn.q_proj
    delta = peft_q.get_delta_weight("default").detach()
    torch.testing.assert_close(merged[q], base[q] + delta, rtol=0, atol=1e-6)
    assert delta.abs().max() > 0
    for k in base:
        if k.startswith("model.vision_tower") or k == LLM + "embed_tokens.weight":
            assert torch.equal(merged[k], base[k]), k

    monkeypatch.setitem(sys.modules, "peft", None)  # the merged folder needs no peft
    vlm = load_vlm(trainer.out, device="cpu")
    trainer.model.eval()
    in_memory = TorchVLM(trainer.model, trainer.tokenizer, vlm.info, torch.device("cpu"))
    assert _greedy(vlm, data) == _greedy(in_memory, data)
    images = [next(iter(read_examples(data))).image]
    np.testing.assert_allclose(
        image_features(vlm, images), image_features(in_memory, images), rtol=1e-5, atol=1e-6
    )  # fmt: skip  (the projector trained too)


def test_lora_resumes_exactly_and_refuses_another_rank(
    data: Path, init: Path, tmp_path: Path
) -> None:
    straight = train(_config(data, init, lora_rank=2), tmp_path / "a")
    train(_config(data, init, lora_rank=2, save_every=2), tmp_path / "b", until=2)
    resumed = train(_config(data, init, lora_rank=2, save_every=2), tmp_path / "b", resume=True)
    assert resumed["resumed_at"] == [2] and resumed["steps_done"] == 4
    assert [r[0] for r in resumed["loss_curve"]] == [1, 2, 3, 4]
    torch.testing.assert_close(resumed["loss_curve"][-1][1], straight["loss_curve"][-1][1])
    _assert_same_weights(tmp_path / "a", tmp_path / "b")
    for rank, now in ((4, "LoRA rank 4"), (0, "full")):
        with pytest.raises(ConfigError, match=rf"\(LoRA rank 2\), not .*\({now}\).*--lora"):
            Trainer(_config(data, init, lora_rank=rank), tmp_path / "b", resume=True)


def test_missing_peft_names_the_extra_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` raises ImportError
    config = _config(tmp_path / "no-data", tmp_path / "no-init", lora_rank=8)
    with pytest.raises(ConfigError, match=r'pip install "fastvlm-agent-sdk\[train\]"'):
        Trainer(config, tmp_path / "out")


def test_cli_fine_tunes_with_lora(data: Path, init: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["train", "--init", str(init), "--lora", "2", "--data", str(data), "--out", str(out),
            "--steps", "2", "--batch-size", "2", "--warmup", "1", "--eval-episodes", "0",
            "--threads", "1"]  # fmt: skip
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 steps" in result.output and (out / "train_state" / "state.pt").is_file()
    assert load_vlm(out, device="cpu").info.format.value == "hf"
