"""Collecting demonstrations and training a FastVLM on them (tiny sizes, a handful of examples)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from actions.parse import parse_action
from actions.schema import TypeText
from agent_sdk.collect import CollectConfig, Example, collect, read_examples, read_manifest
from agent_sdk.errors import ConfigError
from agent_sdk.evaluate import EvalConfig, evaluate, read_episodes, trajectory_dir
from agent_sdk.prompting import robot_prompt, step_prompt
from agent_sdk.train import (
    CENTRED_HALF,
    GROUND_INSTRUCTION,
    NUMBERS,
    SIZES,
    CopyText,
    Dataset,
    Grounding,
    Spotlight,
    TrainConfig,
    Trainer,
    answer_loss,
    cell_words_loss,
    collate,
    copies,
    encode_example,
    ground_answer,
    loop,
    lr_factor,
    pointer_loss,
    target_cell,
    train,
    train_tokenizer,
)
from agent_sdk.train.data import grid_cell, scramble, typed_values
from agent_sdk.train.model import has_number_tokens, instruction_words
from perception import load_vlm
from perception.preprocess import preprocess
from perception.prompts import chat_prompt

ENVS = ("agent_sdk/ui-click-button-v0", "agent_sdk/ui-enter-text-v0")  # `demos` collects these

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def data(demos: Path) -> Path:
    return demos


def _config(data: Path, **changes: object) -> TrainConfig:
    base = dict(data=(str(data),), size="tiny", steps=4, batch_size=4, lr=3e-3, warmup=1,
                save_every=100, log_every=1, eval_episodes=0)  # fmt: skip
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


# -- collecting -----------------------------------------------------------------------------------
def test_collect_is_deterministic_by_seed(data: Path, tmp_path: Path) -> None:
    manifest = json.loads((data / "manifest.json").read_text())
    config = CollectConfig(**manifest["config"])  # what the data set was collected with
    again = collect(config, tmp_path / "a")
    assert again["hash"] == manifest["hash"]
    for shard in manifest["shards"]:
        assert (tmp_path / "a" / shard["name"]).read_bytes() == (data / shard["name"]).read_bytes()
    other = collect(dataclasses.replace(config, seed=7), tmp_path / "b")
    assert other["hash"] != manifest["hash"]
    assert config.episodes == 3 and config.shard_size == 4
    assert manifest["examples"] == sum(s["examples"] for s in manifest["shards"])
    assert manifest["examples"] == sum(v["examples"] for v in manifest["per_env"].values())
    assert len(manifest["shards"]) == -(-manifest["examples"] // 4)
    assert all(v["episodes"] == 3 for v in manifest["per_env"].values())


def test_examples_use_the_policy_prompt_and_action_text(data: Path) -> None:
    examples = list(read_examples(data))
    assert len(examples) == json.loads((data / "manifest.json").read_text())["examples"]
    for ex in examples:
        assert ex.prompt == step_prompt(ex.instruction, ex.history)
        assert parse_action(ex.target).to_text() == ex.target
        assert ex.image.dtype == np.uint8 and ex.image.ndim == 3 and ex.image.shape[2] == 3
    typed = [ex for ex in examples if ex.env_id == ENVS[1] and ex.step > 0]
    assert typed and all(len(ex.history) == ex.step for ex in typed)


def test_threads_read_the_same_examples_in_order(data: Path, tmp_path: Path) -> None:
    serial = list(read_examples([data, data]))
    threaded = list(read_examples([data, data], threads=3))
    assert len(json.loads((data / "manifest.json").read_text())["shards"]) > 3
    assert [ex.meta() for ex in threaded] == [ex.meta() for ex in serial]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(threaded, serial, strict=True))
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in data.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    last = sorted(broken.glob("shard-*.tar"))[-1]
    last.write_bytes(last.read_bytes()[:-1] + b"x")
    with pytest.raises(ConfigError, match="does not match its manifest"):
        list(read_examples(broken, threads=3))


def test_camera_examples_use_the_robot_prompt() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    gui = Example(image, "Reach the red dot", ("done()",), "done()")
    robot = Example(image, "Reach the red dot", ("done()",), "done()", robot=True)
    assert gui.prompt == step_prompt("Reach the red dot", ["done()"])
    assert robot.prompt == robot_prompt("Reach the red dot", ["done()"])


def test_collect_skips_an_episode_its_oracle_cannot_play(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envs.errors import EnvError
    from envs.ui.env import UIEnv

    oracle, reset, seeds = UIEnv.oracle, UIEnv.reset, []

    def remember(self: UIEnv, **kwargs):  # type: ignore[no-untyped-def]
        seeds.append(kwargs.get("seed"))
        return reset(self, **kwargs)

    def flaky(self: UIEnv):  # type: ignore[no-untyped-def]
        if seeds[-1] == 100001:  # the second episode: its target hidden, say
            raise EnvError("the target is covered")
        return oracle(self)

    monkeypatch.setattr(UIEnv, "reset", remember)
    monkeypatch.setattr(UIEnv, "oracle", flaky)
    config = CollectConfig(env_ids=(ENVS[0],), episodes=3, noise=0.0)
    manifest = collect(config, tmp_path / "d")
    assert manifest["skipped"] == [
        {"env_id": ENVS[0], "seed": 100001, "error": "EnvError: the target is covered"}
    ]
    assert manifest["per_env"][ENVS[0]]["episodes"] == 3
    assert manifest["per_env"][ENVS[0]]["successes"] == 2
    assert {ex.seed for ex in read_examples(tmp_path / "d")} == {100000, 100002}


def test_cli_collect_keeps_the_first_max_steps_of_each_episode(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agent_sdk.cli import app

    args = ["collect", "--env", "agent_sdk/ui-enter-text-v0", "--episodes", "3", "--max-steps",
            "2", "--out", str(tmp_path / "d")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["config"]["max_steps"] == 2
    examples = list(read_examples(tmp_path / "d", images=False))
    per_episode = Counter(ex.seed for ex in examples)
    assert len(per_episode) == 3 and max(per_episode.values()) == 2
    assert max(ex.step for ex in examples) == 1


def test_a_learner_plays_as_eval_does_and_the_oracle_labels_its_states(tmp_path: Path) -> None:
    from envs.ui.env import UIEnv
    from perception.checkpoints import checkpoint_hash
    from perception.tiny import save_tiny_checkpoint

    env_id, tiny = ENVS[1], str(save_tiny_checkpoint(tmp_path / "tiny", layout="hf", seed=2))
    config = CollectConfig(env_ids=(env_id,), episodes=2, seed=0, noise=0.0, max_steps=3,
                           learner=tiny)  # fmt: skip
    labels: list[str] = []
    oracle = UIEnv.oracle

    def spy(self: UIEnv):  # type: ignore[no-untyped-def]
        action = oracle(self)
        labels.append(action.to_text())
        return action

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UIEnv, "oracle", spy)
        manifest = collect(config, tmp_path / "dagger")
    examples = list(read_examples(tmp_path / "dagger"))
    assert manifest["config"]["learner"] == tiny
    assert manifest["config"]["learner_hash"] == checkpoint_hash(tiny)
    assert [ex.target for ex in examples] == labels  # one oracle answer per state, its label
    # the same model and seeds through `eval`: the same steps, whose actions are the history
    runs = evaluate(EvalConfig(env_ids=(env_id,), policy="vlm", model=tiny, episodes=2,
                               max_steps=3), tmp_path / "eval")  # fmt: skip
    for run in runs:
        traj = json.loads((trajectory_dir(tmp_path / "eval", env_id, run.seed)
                           / "trajectory.json").read_text())  # fmt: skip
        played = [s["action_text"] for s in traj["steps"]]
        mine = [ex for ex in examples if ex.seed == run.seed]
        assert [ex.step for ex in mine] == list(range(run.steps)) and run.steps >= 1
        for ex in mine:
            assert list(ex.history) == [a for a in played[: ex.step] if a is not None]
    collect(dataclasses.replace(config, learner=None), tmp_path / "oracle")
    first = next(read_examples(tmp_path / "oracle"))
    assert first.target == examples[0].target  # the first state is the oracle's too
    assert np.array_equal(first.image, examples[0].image)
    with pytest.raises(ConfigError, match="no --noise"):
        CollectConfig(env_ids=(env_id,), learner=tiny)  # noise 0.1 by default


def test_collect_refuses_to_overwrite(data: Path) -> None:
    with pytest.raises(ConfigError, match="already holds"):
        collect(CollectConfig(env_ids=ENVS, episodes=1), data)


# -- tokenizer and labels -------------------------------------------------------------------------
def test_tokenizer_has_chat_tokens_and_round_trips(data: Path) -> None:
    examples = list(read_examples(data))
    tok = train_tokenizer([chat_prompt(ex.prompt) + ex.target for ex in examples], 400)
    vocab = tok.get_vocab()
    n = len(tok)
    assert [vocab[t] for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")] == [
        n - 3,
        n - 2,
        n - 1,
    ]
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    for text in (chat_prompt(examples[0].prompt), "click(512, 300)", "Ünïcode ✓ 0-1000\n\ttab"):
        assert tok.decode(tok(text, add_special_tokens=False).input_ids) == text
    assert tok.tokenize("click(512, 300)")[1:4] == ["5", "1", "2"]  # digits one by one
    assert tok(chat_prompt("x"), add_special_tokens=False).input_ids.count(vocab["<|im_end|>"]) == 2
    rendered = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert rendered.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")


def test_number_tokens_give_each_coordinate_one_token(data: Path) -> None:
    examples = list(read_examples(data))
    tok = train_tokenizer([chat_prompt(ex.prompt) + ex.target for ex in examples], 400, True)
    assert has_number_tokens(tok) and len(tok) == 400 + len(NUMBERS)
    tokens = tok.tokenize("click(512, 1000) drag(7, 10, 999, 0)")
    assert {"512", "1000", "10", "999"} <= set(tokens) and {"7", "0"} <= set(tokens)
    assert "5" not in tokens
    for text in ("click(512, 300)", "Version 2.4.1 of 12345", chat_prompt(examples[0].prompt)):
        assert tok.decode(tok(text, add_special_tokens=False).input_ids) == text
    assert not has_number_tokens(train_tokenizer(["click(512, 300)"], 300))


def test_instruction_words_are_the_data_s_names_not_the_prompt_s() -> None:
    instructions = [
        "Select the green diamond.",
        "Select the green star.",
        'Click "Back".',
        'Click "Back" now.',
        "Select the green circle.",
        "Select the green circle.",
    ]
    words = instruction_words(instructions, 2, "Click the button; drag(x1, y1)")
    assert set(words[:2]) == {" green", "Select"}  # 3 distinct instructions each
    assert words[2:] == ["Back"]  # bare: in quotes; " diamond" once; Click, the: the prompt's


def test_new_model_with_word_tokens_keeps_the_image_token_after_them(
    data: Path, tmp_path: Path
) -> None:
    trainer = Trainer(_config(data, word_tokens=2, number_tokens=True), tmp_path / "wt")
    tok, vocab = trainer.tokenizer, trainer.tokenizer.get_vocab()
    words = [w for w in tok.get_added_vocab() if w.strip().isalpha()]
    image_id = trainer.model.config.image_token_id
    assert words and image_id == len(tok)  # after the words
    ex = next(ex for ex in read_examples(data) if any(w in ex.instruction for w in words))
    ids = tok(ex.instruction, add_special_tokens=False).input_ids
    assert {vocab[w] for w in words} & set(ids)
    trainer.train_step()
    trainer.save()
    vlm = load_vlm(tmp_path / "wt", device="cpu")
    assert vlm.info.image_token_id == image_id == vlm.tokenizer.get_vocab()["<image>"]
    assert set(words) <= set(vlm.tokenizer.get_vocab())
    assert vlm.tokenizer(ex.instruction, add_special_tokens=False).input_ids == ids


def test_new_model_with_number_tokens_trains_saves_and_answers_in_them(
    data: Path, tmp_path: Path
) -> None:
    trainer = Trainer(_config(data, number_tokens=True, steps=30, max_examples=4, lr=1e-2,
                              warmup=2), tmp_path / "nt")  # fmt: skip
    tok, model = trainer.tokenizer, trainer.model
    vocab = tok.get_vocab()
    image_id = model.config.image_token_id
    assert image_id == len(tok) and image_id not in {vocab[n] for n in NUMBERS}  # next id
    embed = model.get_input_embeddings().weight.detach()
    cos = torch.nn.functional.cosine_similarity
    assert cos(embed[vocab["500"]], embed[vocab["501"]], 0) > 0.9  # neighbours start alike
    assert abs(cos(embed[vocab["100"]], embed[vocab["900"]], 0)) < 0.5
    answers = [i for i, a in enumerate(trainer.data.answers) if a.startswith("click(")]
    x = trainer.data.answers[answers[0]].split("(")[1].split(",")[0]
    assert vocab[x] in trainer.data.ids[answers[0]].tolist()  # one token for the value
    losses = [trainer.train_step()[0] for _ in range(30)]
    assert sum(losses[-5:]) / 5 < 0.3 * sum(losses[:3]) / 3
    trainer.save()
    vlm = load_vlm(tmp_path / "nt", device="cpu")
    assert has_number_tokens(vlm.tokenizer) and vlm.info.image_token_id == image_id
    assert vlm.tokenizer.get_vocab()["<image>"] == image_id
    ex = next(iter(read_examples(data)))
    gen = vlm.generate(ex.image, ex.prompt, max_new_tokens=6)
    assert gen.timings.num_prompt_tokens > 4 and len(gen.token_ids) <= 6


def test_loss_covers_only_the_answer_tokens(data: Path) -> None:
    examples = list(read_examples(data))[:3]
    tok = train_tokenizer([chat_prompt(ex.prompt) + ex.target for ex in examples], 400)
    image_id = len(tok)
    seqs = [encode_example(tok, ex.prompt, ex.target, image_id, 4) for ex in examples]
    ds = Dataset(torch.zeros(3, 3, 8, 8, dtype=torch.uint8), [torch.tensor(s) for s, _ in seqs],
                 [n for _, n in seqs], torch.full((3,), -1))  # fmt: skip
    batch = collate(ds, [0, 1, 2], tok.pad_token_id)
    for row, ex in enumerate(examples):
        labelled = batch["ids"][row][batch["labels"][row]].tolist()
        assert tok.decode(labelled) == ex.target + "<|im_end|>"
        prompt_ids = batch["ids"][row][: seqs[row][1]].tolist()
        assert prompt_ids.count(image_id) == 4
        assert not batch["labels"][row][~batch["mask"][row]].any()  # padding never learnt


@pytest.mark.parametrize("threads", [1, 3])
def test_dataset_packs_the_preprocessed_images_losslessly(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    from agent_sdk.train import build_dataset

    texts = list(read_examples(data, images=False))
    examples = list(read_examples(data))
    assert [ex.image.shape for ex in texts] == [(0, 0, 3)] * len(examples)
    assert [ex.prompt for ex in texts] == [ex.prompt for ex in examples]
    tok = Trainer(_config(data), tmp_path).tokenizer
    monkeypatch.setitem(build_dataset.__globals__, "_CHUNK", 2)  # chunks in flight at once
    ds = build_dataset(iter(examples), tok, 999, 64, 1, ground=True, threads=threads)  # a stream
    assert len(examples) > 2 * threads
    assert [tok.decode(ids) for ids in ds.ids] == [
        tok.decode(ids) for ids in build_dataset(iter(examples), tok, 999, 64, 1).ids
    ]  # the texts in the images' order
    raw = preprocess([ex.image for ex in examples], 64, (0.0,) * 3, (1.0,) * 3)
    expected = torch.from_numpy(np.rint(raw * 255).astype(np.uint8))
    assert len(ds) == len(examples) and ds.pixels.shape == expected.shape
    assert torch.equal(ds.pixels[:], expected)
    assert torch.equal(ds.pixels[[2, 0]], expected[[2, 0]])
    assert torch.equal(ds.pixels[1], expected[1]) and ds.pixels[3:3].shape == (0, 3, 64, 64)
    assert torch.equal(ds.pixels[np.int64(2)], expected[2])
    assert ds.pixels.nbytes < expected.numel() / 2  # packed
    ds.pixels[0] = expected[1]
    assert torch.equal(ds.pixels[0], expected[1])
    with pytest.raises(ValueError, match="3 x 64 x 64 uint8"):
        ds.pixels[0] = expected[1].float()


def test_packed_images_are_the_normalised_preprocessing_undone() -> None:
    """Packing skips the float round trip: a mean and std (pad colour and scale) give the uint8
    picture whose normalisation is exactly `preprocess`'s output."""
    from agent_sdk.train.data import PackedImages, pack_model_images

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (30, 50, 3), dtype=np.uint8),
              rng.integers(0, 256, (41, 17, 3), dtype=np.uint8)]  # fmt: skip
    mean, std = (0.48, 0.46, 0.41), (0.27, 0.26, 0.28)
    pixels = PackedImages(32)
    pixels.extend_packed(pack_model_images(images, 32, mean))
    m, s = np.asarray(mean)[:, None, None], np.asarray(std)[:, None, None]
    normalised = (pixels[:].numpy() / 255.0 - m) / s
    expected = preprocess(images, 32, mean, std)
    assert np.abs(normalised - expected).max() < 1e-5
    assert (pixels[0].numpy()[:, 0, 0] == [122, 117, 105]).all()  # padded with the mean colour


def test_lower_median_is_torchs_median() -> None:
    from agent_sdk.train.data import lower_median

    gen = torch.Generator().manual_seed(0)
    for rows, n, top in [(3, 1, 256), (3, 2, 256), (1, 7, 3), (3, 76_800, 256), (2, 1000, 1)]:
        values = torch.randint(0, top, (rows, n), generator=gen, dtype=torch.uint8)
        assert torch.equal(lower_median(values), values.median(dim=1).values)
    sliced = torch.randint(0, 256, (3, 64, 64), generator=gen, dtype=torch.uint8)[:, 8:56]
    assert torch.equal(lower_median(sliced.flatten(1)), sliced.flatten(1).median(dim=1).values)


def test_target_cell_is_the_image_token_under_the_first_point() -> None:
    # 320 x 240 is padded to 320 x 320 (40 rows above), then cut into 5 x 5 tokens of 64 px
    assert target_cell("click(742, 323)", 320, 240, 5) == 1 * 5 + 3  # (237, 118) px
    assert target_cell("drag(0, 0, 999, 999)", 320, 240, 5) == 0  # (0, 40): the first point
    assert target_cell("right_click(999, 999)", 320, 240, 5) == 4 * 5 + 4
    assert target_cell('point_target(500, 500, gripper="close")', 240, 320, 2) == 1 * 2 + 1
    for answer in ('type_text("12, 30")', 'key("enter")', "done()", 'fail("no (1, 2)")'):
        assert target_cell(answer, 320, 240, 5) == -1


def test_pointer_loss_is_the_attention_of_head_0(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(data), tmp_path)
    model, examples = trainer.model, list(read_examples(data))
    lm = model.model.language_model
    lm.config._attn_implementation = "eager"  # attention weights come back
    index = [i for i, ex in enumerate(examples) if trainer.data.cells[i] >= 0][:4]
    batch = collate(trainer.data, index, trainer.tokenizer.pad_token_id)
    ids = batch["ids"]
    image = ids == model.config.image_token_id
    with torch.no_grad():
        feats = model.model.get_image_features(pixel_values=batch["pixels"].float() / 255)
        embeds = model.get_input_embeddings()(torch.where(image, 0, ids)).masked_scatter(
            image[..., None], feats.pooler_output
        )
        out = lm(inputs_embeds=embeds, attention_mask=batch["mask"].long(),
                 output_hidden_states=True, output_attentions=True)  # fmt: skip
        loss = pointer_loss(lm, out.hidden_states, image, batch["prompt_lens"] - 1, batch["cells"])
    query = batch["prompt_lens"] - 1
    target = image.float().argmax(-1) + batch["cells"]
    rows = torch.arange(len(index))
    expected = torch.stack([
        -out.attentions[layer][rows, 0, query, target].log().mean()
        for layer in range(1, len(lm.layers))
    ]).mean()  # fmt: skip
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-5)


def test_pointer_loss_trains_the_head_to_look_at_the_target(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(data, steps=30, max_examples=4, lr=1e-2, warmup=2,
                              pointer_weight=1.0), tmp_path)  # fmt: skip
    assert int((trainer.data.cells >= 0).sum()) >= 2
    batch = collate(trainer.data, range(4), trainer.tokenizer.pad_token_id)
    before = _added_loss(trainer, batch, pointer_weight=1.0)
    for _ in range(30):
        trainer.train_step()
    assert _added_loss(trainer, batch, pointer_weight=1.0) < 0.3 * before


def _added_loss(trainer: Trainer, batch: dict[str, torch.Tensor], **weights: float) -> float:
    """What ``weights`` (an extra loss's weight) add to the answer loss of ``batch``, in eval
    mode."""
    trainer.model.eval()
    with torch.no_grad():
        both, _ = answer_loss(trainer.model, batch, **weights)
        answer, _ = answer_loss(trainer.model, batch)
    trainer.train_mode()
    return float(both - answer)


def test_cell_words_loss_scores_the_targets_feature_against_the_words() -> None:
    torch.manual_seed(0)
    feats = torch.randn(3, 4, 8, requires_grad=True)
    embeddings = torch.randn(10, 8, requires_grad=True)
    cells = torch.tensor([2, -1, 0])  # the middle answer has no point
    words = torch.tensor([[1, 3, -1], [5, -1, -1], [7, -1, -1]])
    loss = cell_words_loss(feats, embeddings, cells, words)
    unit = torch.nn.functional.normalize
    cos = unit(feats, dim=-1) @ unit(embeddings, dim=-1).T  # 3 x 4 x 10
    log_p = (cos * 16).log_softmax(-1)
    expected = -((log_p[0, 2, 1] + log_p[0, 2, 3]) / 2 + log_p[2, 0, 7]) / 2  # per answer
    torch.testing.assert_close(loss, expected)
    weights = torch.tensor([[1.0, 3.0, 9.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    weighted = cell_words_loss(feats, embeddings, cells, words, weights)  # padding weighs 0
    expected = -((log_p[0, 2, 1] + 3 * log_p[0, 2, 3]) / 4 + log_p[2, 0, 7]) / 2
    torch.testing.assert_close(weighted, expected)
    loss.backward()
    assert embeddings.grad is None  # the LLM's words stay as they are
    assert feats.grad[0, 2].abs().sum() > 0 and feats.grad[2, 0].abs().sum() > 0
    assert feats.grad[1].abs().sum() == 0 and feats.grad[0, :2].abs().sum() == 0
    none = cell_words_loss(feats, embeddings, torch.tensor([-1, -1, -1]), words)
    assert float(none.detach()) == 0.0 and none.requires_grad


def test_cell_words_teach_the_target_feature_its_instruction(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(data, steps=30, max_examples=4, lr=1e-2, warmup=2,
                              cell_words=1.0), tmp_path)  # fmt: skip
    examples = list(read_examples(data))[:4]
    batch = collate(trainer.data, range(4), trainer.tokenizer.pad_token_id)
    for row, ex in enumerate(examples):  # each instruction's tokens, once, -1 padded
        want = sorted(set(trainer.tokenizer(ex.instruction, add_special_tokens=False).input_ids))
        assert [w for w in batch["words"][row].tolist() if w >= 0] == want
        got = batch["word_weights"][row][: len(want)]
        assert torch.equal(got, trainer.data.word_idf[want])
        assert not batch["word_weights"][row][len(want) :].any()  # padding
    holding = Counter(w for bag in trainer.data.words for w in bag.tolist())
    for word, count in holding.items():  # ln(examples / examples holding the word)
        assert float(trainer.data.word_idf[word]) == pytest.approx(np.log(4 / count))
    assert not trainer.data.word_idf[[w for w in range(50) if w not in holding]].any()
    assert int((batch["cells"] >= 0).sum()) >= 2
    before = _added_loss(trainer, batch, cell_words=1.0)
    for _ in range(30):
        trainer.train_step()
    assert _added_loss(trainer, batch, cell_words=1.0) < 0.7 * before
    with pytest.raises(ConfigError, match="cell_words"):
        _config(data, cell_words=-1.0)


def test_spotlight_keeps_a_drags_end_in_sight(data: Path, tmp_path: Path) -> None:
    from agent_sdk.train import build_dataset

    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    drag = Example(image, "Push the block onto the target", (), "drag(200, 300, 750, 700)")
    tok = Trainer(_config(data), tmp_path).tokenizer
    ds = build_dataset([drag], tok, 999, 64, 1)
    pixels = ds.pixels[0]
    start = (slice(None), slice(19 - 6, 19 + 6), slice(12 - 6, 12 + 6))  # (12.8, 19.2) px
    end = (slice(None), slice(44 - 6, 44 + 6), slice(48 - 6, 48 + 6))  # (48, 44.8) px
    lit = Spotlight(1.0, np.random.default_rng(1), 6, 6)(ds, 0)
    assert torch.equal(lit[start], pixels[start]) and torch.equal(lit[end], pixels[end])
    kept = (lit == pixels).all(0)
    assert kept.sum() <= 2 * 12 * 12 + 64  # the two boxes (and a few pixels the flat colour)
    blind = Spotlight(1.0, np.random.default_rng(1), 6, 6, drag_end=False)(ds, 0)
    assert torch.equal(blind[start], pixels[start]) and not torch.equal(blind[end], pixels[end])


def test_a_drags_end_is_pointed_at_from_the_state_before_its_x(data: Path, tmp_path: Path) -> None:
    from agent_sdk.train import build_dataset
    from agent_sdk.train.data import drag_query

    trainer = Trainer(_config(data), tmp_path)
    tok, model = trainer.tokenizer, trainer.model
    size, tokens = trainer._image_size(), trainer.image_tokens
    grid = math.isqrt(tokens)
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    answers = ["drag(200, 300, 750, 700)", "click(750, 700)", "drag(999, 0, 10, 20)"]
    examples = [Example(image, "Push the block onto the target", (), a) for a in answers]
    ds = build_dataset(examples, tok, model.config.image_token_id, size, tokens, ground=True)
    for i, answer in enumerate(answers):
        query, cell = (int(v) for v in ds.ends[i])
        if answer.startswith("click"):
            assert (query, cell) == (-1, -1)
            continue
        x, y = (int(v) for v in answer[5:-1].split(", ")[2:])
        # the state at `query` predicts the end's x; the end lies in the padded square image
        follows = tok.decode(ds.ids[i][query + 1 :]).removesuffix("<|im_end|>")
        assert follows == answer[answer.index(str(x), 9) :] and query >= ds.prompt_lens[i]
        assert cell == grid_cell(x / 1000, (y / 1000 * 48 + 8) / 64, grid)
    f = lambda text: tok(text, add_special_tokens=False).input_ids  # noqa: E731
    assert drag_query("click(1, 2)", f("click(1, 2)"), f, 64, 64, grid) == (-1, -1)
    # ids whose start is not the text before x (a tokeniser that merges across it)
    assert drag_query("drag(1, 2, 3, 4)", f("drag(1, 23, 4)"), f, 64, 64, grid) == (-1, -1)
    assert drag_query("drag(1, 2, 3, 4)", f("drag(1, 2, 3, 4)"), f, 64, 64, grid)[0] > 0
    batch = collate(ds, [0, 1, 2], tok.pad_token_id)
    assert torch.equal(torch.stack([batch["end_queries"], batch["end_cells"]], 1), ds.ends)
    grounded = collate(ds, [0, 1, 2], tok.pad_token_id,
                       grounding=Grounding(1.0, np.random.default_rng(0)))  # fmt: skip
    assert (grounded["end_cells"] == -1).all()  # grounding examples are clicks
    # new letters for the history's typing change the prompt's length: the query moves along
    typed = Example(image, 'Enter "Zanzibar", then drag the slider', ('type_text("Zanzibar")',),
                    "drag(100, 500, 900, 500)")  # fmt: skip
    one = build_dataset([typed], tok, model.config.image_token_id, size, tokens)
    moved = set()
    for seed in range(6):
        copy = CopyText(1.0, np.random.default_rng(seed), tok, model.config.image_token_id, tokens)
        rewritten = collate(one, [0], tok.pad_token_id, copy_text=copy)
        query = int(rewritten["end_queries"][0])
        text = tok.decode(rewritten["ids"][0])
        assert "Zanzibar" not in text and tok.decode(rewritten["ids"][0, query + 1 :]) == (
            "900, 500)<|im_end|>"
        )
        moved.add(int(rewritten["prompt_lens"][0]) - one.prompt_lens[0])
    assert 0 not in moved  # the new names tokenise to other lengths than "Zanzibar"
    # end_pointer_weight adds the end's pointer loss (a batch without ends adds nothing)
    model.eval()
    with torch.no_grad():
        both, _ = answer_loss(model, batch, end_pointer_weight=1.0)
        first, _ = answer_loss(model, batch)
        none, _ = answer_loss(model, {**batch, "end_cells": torch.full((3,), -1)},
                              end_pointer_weight=1.0)  # fmt: skip
        ids = batch["ids"]
        image = ids == model.config.image_token_id
        feats = model.model.get_image_features(pixel_values=batch["pixels"].float() / 255)
        embeds = model.get_input_embeddings()(torch.where(image, 0, ids)).masked_scatter(
            image[..., None], feats.pooler_output
        )
        lm = model.model.language_model
        out = lm(inputs_embeds=embeds, attention_mask=batch["mask"].long(),
                 output_hidden_states=True)  # fmt: skip
        end = pointer_loss(lm, out.hidden_states, image, batch["end_queries"], batch["end_cells"])
    assert float(end) > 0
    torch.testing.assert_close(both - first, end, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(none, first)


def test_spotlight_keeps_only_the_target_and_the_padding(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(data), tmp_path)
    ds = trainer.data
    pointing = [i for i, a in enumerate(ds.answers) if target_cell(a, 1, 1, 1) >= 0]
    typed = [i for i, a in enumerate(ds.answers) if target_cell(a, 1, 1, 1) < 0]
    assert pointing and typed
    size = ds.pixels.shape[-1]
    for i in pointing:
        lit = Spotlight(1.0, np.random.default_rng(i), 6, 6)(ds, i)
        w, h = ds.sizes[i]
        x, y = (int(v) for v in ds.answers[i][ds.answers[i].index("(") + 1 :].split(")")[0]
                .split(", ")[:2])  # fmt: skip
        square = max(w, h)
        px = int((x / 1000 * w + (square - w) / 2) / square * size)
        py = int((y / 1000 * h + (square - h) / 2) / square * size)
        box = (slice(None), slice(py - 6, py + 6), slice(px - 6, px + 6))
        assert torch.equal(lit[box], ds.pixels[i][box])  # the target's box is untouched
        changed = (lit != ds.pixels[i]).any(0)
        pad = round((square - h) / 2 / square * size)  # rows of padding above and below
        assert not changed[:pad].any() and not changed[size - pad :].any()
        keep = torch.zeros(size, size, dtype=torch.bool)
        keep[max(py - 6, 0) : py + 6, max(px - 6, 0) : px + 6] = True
        screen = torch.zeros(size, size, dtype=torch.bool)
        screen[pad : size - pad] = True  # these screens are wider than tall
        outside = lit[:, screen & ~keep]
        assert (outside == outside[:, :1]).all()  # one flat colour elsewhere on the screen
    assert Spotlight(1.0, np.random.default_rng(0))(ds, typed[0]) is None
    assert Spotlight(0.0, np.random.default_rng(0))(ds, pointing[0]) is None


def test_wide_spotlight_keeps_neighbours_in_a_box_placed_at_random() -> None:
    size, px, py = 400, 240, 160  # no box reaches the image's edge
    pixels = torch.randint(0, 256, (1, 3, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))  # fmt: skip
    ds = Dataset(pixels, [], [], torch.tensor([0]), ["click(600, 400)"], [(1, 1)])
    rng, offsets, halves = np.random.default_rng(0), set(), []
    for _ in range(60):
        lit = Spotlight(1.0, rng, min_half=10, max_half=60)(ds, 0)
        kept = (lit == pixels[0]).all(0)  # seeded: no pixel outside has the flat colour
        rows, cols = kept.any(1).nonzero().flatten(), kept.any(0).nonzero().flatten()
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        assert kept[y0:y1, x0:x1].all() and kept.sum() == (y1 - y0) * (x1 - x0)  # one box
        assert x0 <= px - 10 and px + 10 <= x1 and y0 <= py - 10 and py + 10 <= y1
        outside = lit[:, ~kept]
        assert (outside == outside[:, :1]).all()  # one flat colour elsewhere
        half = (x1 - x0) // 2
        assert half <= 60 and y1 - y0 == x1 - x0  # square
        centre = ((x0 + x1) // 2 - px, (y0 + y1) // 2 - py)
        if half <= CENTRED_HALF:
            assert centre == (0, 0)
        offsets.add(centre)
        halves.append(half)
    assert max(halves) > CENTRED_HALF + 10 and min(halves) <= CENTRED_HALF
    assert len(offsets) > 20  # the target is not at the middle of a wide box


def test_ground_answer_clicks_the_first_point() -> None:
    assert ground_answer("click(12, 345)") == "click(12, 345)"
    assert ground_answer("drag(10, 20, 30, 40)") == "click(10, 20)"
    assert ground_answer('point_target(642, 458, gripper="close")') == "click(642, 458)"
    assert ground_answer('type_text("hi")') is None
    assert ground_answer("done()") is None


def test_scramble_keeps_case_and_class_and_typed_values_come_from_the_instruction() -> None:
    rng = np.random.default_rng(0)
    for value in ["Agustina", "yA", "Ann-3 b", "x9Z"]:
        new = scramble(value, rng)
        assert len(new) == len(value) and new != value
        for a, b in zip(value, new, strict=True):
            assert (a.islower(), a.isupper(), a.isdigit()) == (
                b.islower(),
                b.isupper(),
                b.isdigit(),
            )
            assert a.isalnum() or a == b
    login = (
        'Enter the username "karrie" and the password "AU" into the text fields and press login.'
    )
    assert typed_values(login, ('type_text("karrie")',), 'type_text("AU")') == ["karrie", "AU"]
    assert typed_values("Select Alexa from the list.", (), 'type_text("Alexa")') == ["Alexa"]
    both = 'Enter "Bob" and "Ann".'  # equal lengths: alphabetical, not the set's hash order
    assert typed_values(both, ('type_text("Bob")',), 'type_text("Ann")') == ["Ann", "Bob"]
    assert typed_values('Type "cat" here', (), 'type_text("ca")') == []  # not a word of it
    assert typed_values('Type "cat" here', (), "click(1, 2)") == []
    quoted = TypeText(text='say "hi"').to_text()  # escaped quotes: the project's parser reads it
    assert typed_values('Type say "hi" now', (quoted,), "key('enter')") == ['say "hi"']


def test_copy_text_gives_typed_text_new_letters_everywhere(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(data, copy_text=1.0), tmp_path)
    ds, tok = trainer.data, trainer.tokenizer
    copy = CopyText(1.0, np.random.default_rng(0), tok, trainer.model.config.image_token_id,
                    trainer.image_tokens)  # fmt: skip
    typing = [i for i in range(len(ds)) if ds.answers[i].startswith("type_text")]
    after = [i for i in range(len(ds)) if not ds.answers[i].startswith("type_text")
             and typed_values(*ds.steps[i], ds.answers[i])]  # fmt: skip
    assert typing and after
    batch = collate(ds, typing + after, tok.pad_token_id, copy_text=copy)
    for row, i in enumerate(typing + after):
        instruction, history = ds.steps[i]
        n = int(batch["prompt_lens"][row])
        prompt = tok.decode(batch["ids"][row, :n])
        answer = tok.decode(batch["ids"][row][batch["labels"][row]]).removesuffix("<|im_end|>")
        (value,) = typed_values(instruction, history, ds.answers[i])
        if i in typing:
            (new,) = re.findall(r'type_text\("(.*)"\)', answer)
        else:
            assert answer == ds.answers[i]  # a click after typing stays as it was
            typed = re.findall(r'type_text\("([^"]*)"\)', prompt)
            (new,) = [t for t in typed if t != "..."]  # the action format's example left out
            assert f'type_text("{value}")' not in prompt  # the history's typing rewritten
        assert len(new) == len(value) and new != value
        assert f"Task: {instruction.replace(value, new)}" in prompt
    plain = collate(ds, typing + after, tok.pad_token_id)
    never = CopyText(0.0, np.random.default_rng(0), tok, 1, trainer.image_tokens)
    again = collate(ds, typing + after, tok.pad_token_id, copy_text=never)
    assert torch.equal(again["ids"], plain["ids"])
    with pytest.raises(ConfigError, match="copy_text"):
        _config(data, copy_text=1.5)


def test_copy_batch_drills_typing_answers_with_new_letters(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(data, copy_batch=3), tmp_path)
    ds = trainer.data
    typing = [i for i in range(len(ds)) if ds.answers[i].startswith("type_text")]
    assert trainer.copies == copies(ds) == typing  # the demos type only what they are told
    seen: list[dict[str, torch.Tensor]] = []
    real_collate = loop.collate

    def spy(*args: object, **kwargs: object) -> dict[str, torch.Tensor]:
        batch = real_collate(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(batch)
        return batch

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "collate", spy)
        trainer.train_step()
    main, drill = seen
    assert main["ids"].shape[0] == 4 and drill["ids"].shape[0] == 3
    tok = trainer.tokenizer
    for row in range(3):
        answer = tok.decode(drill["ids"][row][drill["labels"][row]])
        (new,) = re.findall(r'type_text\("(.*)"\)', answer)
        prompt = tok.decode(drill["ids"][row, : int(drill["prompt_lens"][row])])
        assert f'"{new}"' in prompt.split("Previous actions:")[0]  # the task spells it
        assert new not in {parse_action(ds.answers[i]).text for i in typing}  # not the data's
    record = train(_config(data, copy_batch=2, steps=3), tmp_path / "run")
    assert [r[0] for r in record["copy_curve"]] == [1, 2, 3]
    assert all(0 <= acc <= 1 and loss > 0 for _, acc, loss in record["copy_curve"])
    with pytest.raises(ConfigError, match="copy_batch"):
        _config(data, copy_batch=-1)
    with pytest.raises(ConfigError, match="no example in"):  # the first examples click a button
        Trainer(_config(data, copy_batch=2, max_examples=3), tmp_path / "none")


def test_grounding_asks_pointing_examples_on_their_spotlit_image(
    data: Path, tmp_path: Path
) -> None:
    trainer = Trainer(_config(data, ground=1.0), tmp_path)
    ds, tok = trainer.data, trainer.tokenizer
    pointing = [i for i, g in enumerate(ds.ground_ids) if g is not None]
    typed = [i for i, g in enumerate(ds.ground_ids) if g is None]
    assert pointing and typed
    assert all(target_cell(ds.answers[i], 1, 1, 1) < 0 for i in typed)
    index = [*pointing[:3], *typed[:2]]
    batch = collate(ds, index, tok.pad_token_id, grounding=Grounding(1.0, np.random.default_rng(0)))
    plain = collate(ds, index, tok.pad_token_id)
    for row, i in enumerate(index):
        n = int(batch["prompt_lens"][row])
        prompt = tok.decode(batch["ids"][row, :n])
        answer = tok.decode(batch["ids"][row][batch["labels"][row]])
        if i in typed:  # left as they are
            assert torch.equal(batch["ids"][row, : len(ds.ids[i])], ds.ids[i])
            assert torch.equal(batch["pixels"][row], ds.pixels[i])
            continue
        assert GROUND_INSTRUCTION in prompt and "Previous actions: none" in prompt
        assert answer == ground_answer(ds.answers[i]) + "<|im_end|>"
        assert not torch.equal(batch["pixels"][row], ds.pixels[i])  # spotlit
        assert int(batch["cells"][row]) == int(ds.cells[i])  # the same point
    untouched = collate(ds, index, tok.pad_token_id,
                        grounding=Grounding(0.0, np.random.default_rng(0)))  # fmt: skip
    assert torch.equal(untouched["ids"], plain["ids"])
    assert torch.equal(untouched["pixels"], plain["pixels"])
    with pytest.raises(ConfigError, match="spotlight_max"):
        _config(data, spotlight_max=4)
    with pytest.raises(ConfigError, match="ground"):
        _config(data, ground=1.5)


def test_schedule_warms_up_then_decays() -> None:
    factors = [lr_factor(s, 10, 100, 0.1) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and factors[-1] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in itertools.pairwise(factors[10:]))


# -- training -------------------------------------------------------------------------------------
def test_overfits_a_tiny_repeated_batch(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(data, steps=40, max_examples=4, lr=1e-2, warmup=2), tmp_path)
    losses = [trainer.train_step()[0] for _ in range(40)]
    assert sum(losses[-5:]) / 5 < 0.3 * sum(losses[:3]) / 3


def test_a_folder_named_twice_gets_twice_the_draws_and_is_held_once(
    data: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    collect(CollectConfig(env_ids=(ENVS[0],), episodes=1, seed=300_000, shard_size=4), other)
    n_data, n_other = (read_manifest(d)["examples"] for d in (data, other))
    config = dataclasses.replace(_config(data, batch_size=1), data=(data, other, other / "."))
    trainer = Trainer(config, tmp_path / "ck")
    assert len(trainer.data) == n_data + n_other
    draws = Counter(trainer.next_batch()[0] for _ in range(len(trainer.pool)))
    assert trainer.epoch == 1 and trainer.index == 0  # that was one epoch
    assert {draws[i] for i in range(n_data)} == {1}
    assert {draws[i] for i in range(n_data, n_data + n_other)} == {2}
    plain = Trainer(_config(data), tmp_path / "plain")
    assert torch.equal(plain.pool, torch.arange(len(plain.data)))  # unchanged batches


def test_resume_matches_an_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    extras = {"pointer_weight": 0.5, "end_pointer_weight": 0.5, "spotlight": 1.0,
              "spotlight_end": 0.0, "ground": 0.5, "ground_end": 0.1, "screen_labels": 0.5,
              "screen_count": 6, "copy_batch": 2}  # resumed exactly too  # fmt: skip
    straight = train(_config(data, steps=4, save_every=4, **extras), tmp_path / "a")
    train(_config(data, steps=4, save_every=2, **extras), tmp_path / "b", until=2)
    resumed = train(_config(data, steps=4, save_every=2, **extras), tmp_path / "b", resume=True)
    a, b = (
        load_file(tmp_path / "a" / "model.safetensors"),
        load_file(tmp_path / "b" / "model.safetensors"),
    )
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    assert resumed["steps_done"] == straight["steps_done"] == 4
    assert resumed["resumed_at"] == [2]
    assert [r[0] for r in resumed["loss_curve"]] == [1, 2, 3, 4]
    assert [r[0] for r in resumed["screen_label_curve"]] == [1, 2, 3, 4]
    assert [r[0] for r in resumed["copy_curve"]] == [1, 2, 3, 4]
    torch.testing.assert_close(resumed["loss_curve"][-1][1], straight["loss_curve"][-1][1])
    with pytest.raises(ConfigError, match="--resume"):
        train(_config(data), tmp_path / "a")


def test_data_threads_train_the_same_model(data: Path, tmp_path: Path) -> None:
    extras = {"spotlight": 0.5, "ground": 0.5, "screen_labels": 0.5, "screen_count": 6,
              "steps": 3, "save_every": 3}  # fmt: skip
    one = train(_config(data, **extras), tmp_path / "one")
    two = train(_config(data, data_threads=2, **extras), tmp_path / "two")
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("one", "two"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r[1] for r in one["loss_curve"]] == [r[1] for r in two["loss_curve"]]
    assert two["config"]["data_threads"] == 2
    with pytest.raises(ConfigError, match="data_threads must be >= 1"):
        _config(data, data_threads=0)


def test_checkpoint_loads_generates_and_is_evaluated(data: Path, tmp_path: Path) -> None:
    record = train(_config(data, steps=2, eval_episodes=1, eval_envs=(ENVS[0],)), tmp_path / "ck")
    assert record["evals"] and record["evals"][0]["step"] == 2
    assert record["data_manifests"] == {
        str(data): json.loads((data / "manifest.json").read_text())["hash"]
    }
    episodes = read_episodes(tmp_path / "ck" / "evals" / "step_000002" / "episodes.jsonl")
    assert [(e.env_id, e.seed, e.policy) for e in episodes] == [(ENVS[0], 0, "vlm")]
    vlm = load_vlm(tmp_path / "ck", device="cpu")
    assert vlm.image_size == SIZES["tiny"].image_size and vlm.num_image_tokens == 4
    ex = next(iter(read_examples(data)))
    gen = vlm.generate(ex.image, ex.prompt, max_new_tokens=5)
    assert gen.timings.num_prompt_tokens > 4 and len(gen.token_ids) <= 5


# -- the vision tower sees the images -------------------------------------------------------------
def _variation(features: torch.Tensor | np.ndarray) -> float:
    """How much features differ between the images of a batch, relative to their size."""
    f = torch.as_tensor(features).float()
    return float(f.std(dim=0).mean() / f.abs().mean())


def _tower_variation(trainer: Trainer, pixels: torch.Tensor) -> float:
    with torch.no_grad():
        return _variation(trainer.model.model.vision_tower(pixels).last_hidden_state)


def test_new_models_see_the_image_in_training_and_once_saved(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(data, steps=3), tmp_path)
    images = [ex.image for ex in read_examples(data)][:8]
    pixels = trainer.data.pixels[:8].float() / 255
    assert _tower_variation(trainer, pixels) > 0.05  # train mode (BatchNorm on the batch)
    for _ in range(3):
        trainer.train_step()
    assert _tower_variation(trainer, pixels) > 0.05
    trainer.model.eval()
    assert _tower_variation(trainer, pixels) > 0.05  # running statistics, as deployed
    trainer.save()
    saved = load_vlm(tmp_path, device="cpu")
    assert saved.model.config.vision_config.model_args["inference_mode"] is True
    from perception.torch_backend import TorchVLM, image_features

    assert _variation(image_features(saved, images)) > 0.05
    # the saved (re-parameterised) model computes what the model in training does in eval mode
    live = TorchVLM(trainer.model, saved.tokenizer, saved.info, torch.device("cpu"))
    want, got = image_features(live, images), image_features(saved, images)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * float(np.abs(want).max()))
    prompts = [ex.prompt for ex in read_examples(data)][:8]
    for a, b in zip(live.generate(images, prompts, max_new_tokens=6),
                    saved.generate(images, prompts, max_new_tokens=6), strict=True):  # fmt: skip
        assert a.token_ids == b.token_ids
