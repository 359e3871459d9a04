"""Dense labels of GUI screens (`agent_sdk.train.screens`) and their loss in a training run."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import pytest
import torch
from needs import mujoco_missing, need
from safetensors.torch import load_file

from agent_sdk.errors import ConfigError
from agent_sdk.train import TrainConfig, Trainer, target_cell, train
from agent_sdk.train.screens import (
    NOTHING,
    ScreenLabels,
    label_accuracy,
    screen_label_loss,
    screen_labels,
    screen_place_loss,
    token_of,
    token_place,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SHAPES = ("agent_sdk/ui-click-shape-v0",)


def _config(data: Path, **changes: object) -> TrainConfig:
    base = dict(data=(str(data),), size="tiny", steps=4, batch_size=4, lr=3e-3, warmup=1,
                save_every=100, log_every=1, eval_episodes=0, screen_labels=1.0,
                screen_count=6)  # fmt: skip
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_token_of_agrees_with_the_answers_target_cell() -> None:
    for x, y in [(0, 0), (319, 239), (100, 7), (250, 200), (64, 128)]:
        answer = f"click({round(x / 320 * 1000)}, {round(y / 240 * 1000)})"
        px, py = (round(x / 320 * 1000) / 1000 * 320, round(y / 240 * 1000) / 1000 * 240)
        assert token_of(px, py, 320, 240, 5) == target_cell(answer, 320, 240, 5)
    assert token_of(0, 0, 320, 240, 5) == 0  # the padding band's row holds the screen's top
    assert token_of(319, 239, 320, 240, 5) == 24


def test_screens_label_each_shapes_token_with_its_colour_and_kind() -> None:
    screens = screen_labels(SHAPES, 5, 320, 25, seed=11)
    again = screen_labels(SHAPES, 5, 320, 25, seed=11)
    assert screens.vocab[0] == NOTHING and screens.vocab == again.vocab
    assert all(torch.equal(a, b) for a, b in zip(screens.pairs, again.pairs, strict=True))
    assert torch.equal(screens.pixels[0], again.pixels[0]) and screens.pixels.shape[0] == 5
    env = gym.make(SHAPES[0])
    env.reset(seed=11)  # the first screen, before any oracle step (its rng drew 0 or more)
    words = {screens.vocab[w] for _, w in screens.pairs[0].tolist()}
    listed = {w for e in env.unwrapped.elements() for w in e.words}
    assert words <= listed
    targets = screens.targets([0, 1])
    assert targets.shape == (2, 25, len(screens.vocab))
    torch.testing.assert_close(targets.sum(-1), torch.ones(2, 25))
    busy = {t for t, _ in screens.pairs[0].tolist()}
    for token in range(25):
        assert (targets[0, token, 0] == 1) == (token not in busy)  # NOTHING where no element


def test_a_screen_whose_oracle_fails_is_kept_as_it_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    from envs.errors import EnvError
    from envs.ui.env import UIEnv

    def stuck(self: UIEnv) -> None:
        raise EnvError("the target is covered")

    monkeypatch.setattr(UIEnv, "oracle", stuck)
    screens = screen_labels(SHAPES, 6, 320, 25, seed=11)  # each screen as reset shows it
    env = gym.make(SHAPES[0])
    for i in range(6):
        env.reset(seed=11 + i)
        listed = {w for e in env.unwrapped.elements() for w in e.words}
        assert {screens.vocab[w] for _, w in screens.pairs[i].tolist()} <= listed


def test_screen_label_loss_and_accuracy_by_hand() -> None:
    torch.manual_seed(0)
    head = torch.nn.Linear(3, 4)
    feats = torch.randn(1, 2, 3)
    pairs, places = [torch.tensor([[0, 1], [0, 3]])], [torch.zeros(0, 3)]
    labels = ScreenLabels(None, pairs, ["x", "a", "b", "c"], 2, places)  # type: ignore[arg-type]
    targets = labels.targets([0])
    assert targets[0].tolist() == [[0, 0.5, 0, 0.5], [1, 0, 0, 0]]
    log_p = head(feats).log_softmax(-1)[0]
    expected = -((log_p[0, 1] + log_p[0, 3]) / 2 + log_p[1, 0]) / 2
    torch.testing.assert_close(screen_label_loss(feats, head, targets), expected)
    logits = torch.tensor([[[0.0, 0, 0, 9], [9.0, 0, 0, 0]]])
    assert label_accuracy(logits, targets) == 1.0  # token 1 (nothing) does not count
    assert label_accuracy(torch.tensor([[[0.0, 0, 9, 0], [0.0, 9, 0, 0]]]), targets) == 0.0


def test_token_place_is_the_point_inside_its_token() -> None:
    # a 320 x 240 screen sits 40 px down in the 320 px square; 5 x 5 tokens of 64 px
    assert token_place(32, 48, 320, 240, 5) == (5, 0.5, 0.375)  # row 1: 88 px down the square
    assert token_place(0, 0, 320, 240, 5) == (0, 0.0, 0.625)
    assert token_place(320, 240, 320, 240, 5) == (24, 1.0, 0.375)  # the edge: clamped, then 1
    for x, y in [(5, 7), (100, 30), (250, 200), (319, 239)]:
        token, fx, fy = token_place(x, y, 320, 240, 5)
        assert token == token_of(x, y, 320, 240, 5)
        assert ((token % 5 + fx) * 64, (token // 5 + fy) * 64 - 40) == pytest.approx((x, y))


def test_screen_places_keep_lone_elements_and_their_loss_by_hand() -> None:
    screens = screen_labels(SHAPES, 3, 320, 25, seed=11)
    env = gym.make(SHAPES[0])
    env.reset(seed=11)  # screen 0's shapes (an oracle click moves none of them)
    for i, places in enumerate(screens.places):
        tokens = [t for t, _ in screens.pairs[i].tolist()]
        assert len(set(places[:, 0].tolist())) == len(places)  # one place a token
        assert ((places[:, 1:] >= 0) & (places[:, 1:] <= 1)).all()
        assert set(places[:, 0].long().tolist()) <= set(tokens)
    first = [token_place(*e.center, 320, 240, 5) for e in env.unwrapped.elements()]
    counts = [t for t, _, _ in first]
    lone = sorted(p for p in first if counts.count(p[0]) == 1)
    assert len(lone) < len(first)  # a token that holds two elements gets no place
    torch.testing.assert_close(screens.places[0], torch.tensor(lone))
    rows = screens.place_targets([2, 0])
    assert rows[:, 0].tolist() == [0.0] * len(screens.places[2]) + [1.0] * len(screens.places[0])
    head = torch.nn.Linear(4, 2)
    feats = torch.randn(2, 25, 4, requires_grad=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([0.25, 0.75]))
    places = torch.tensor([[0, 3, 0.25, 0.75], [1, 7, 0.75, 0.75]])
    # errors 0, 0 and 0.5, 0 over four numbers
    torch.testing.assert_close(screen_place_loss(feats, head, places), torch.tensor(0.125))
    screen_place_loss(feats, head, places).backward()
    assert head.bias.grad is not None and head.bias.grad.tolist() == [-0.25, 0.0]
    assert float(screen_place_loss(feats, head, torch.zeros(0, 4)).detach()) == 0.0


def test_screen_places_train_beside_the_labels_and_resume_only_alike(
    demos: Path, tmp_path: Path
) -> None:
    record = train(_config(demos, steps=2, screen_places=2.0), tmp_path / "p", until=1)
    assert [len(r) for r in record["screen_label_curve"]] == [4]  # step, accuracy, labels, places
    assert record["screen_label_curve"][0][3] > 0
    assert record["config"]["screen_places"] == 2.0
    trainer = Trainer(_config(demos, screen_places=2.0), tmp_path / "t")
    index = [0, 1, 2]
    trainer.model.eval()
    with torch.no_grad():
        total = float(trainer._screen_loss(index))
    _, labels, places = trainer.label_window[-1]
    assert total == pytest.approx(labels + 2.0 * places, rel=1e-5)
    with pytest.raises(ConfigError, match="give --screen-labels W too"):
        _config(demos, screen_labels=0.0, screen_places=1.0)
    with pytest.raises(ConfigError, match="screen_places"):
        _config(demos, screen_places=-1.0)
    with pytest.raises(ConfigError, match="saved with --screen-places: resume with it"):
        train(_config(demos, steps=2), tmp_path / "p", resume=True)
    train(_config(demos, steps=2), tmp_path / "l", until=1)
    with pytest.raises(ConfigError, match="saved without --screen-places: resume without it"):
        train(_config(demos, steps=2, screen_places=2.0), tmp_path / "l", resume=True)
    resumed = train(_config(demos, steps=2, screen_places=2.0), tmp_path / "p", resume=True)
    assert [r[0] for r in resumed["screen_label_curve"]] == [1, 2]


def test_screen_labels_train_the_image_features(demos: Path, tmp_path: Path) -> None:
    trainer = Trainer(_config(demos, screen_count=8, lr=1e-2), tmp_path / "t")
    assert trainer.screens is not None and len(trainer.screens) == 8
    index = list(range(8))

    def loss() -> float:
        trainer.model.eval()
        with torch.no_grad():
            value = float(trainer._screen_loss(index))
        trainer.train_mode()
        return value

    before = loss()
    for _ in range(60):
        trainer.train_step()
    assert loss() < 0.6 * before
    record = train(_config(demos, steps=2), tmp_path / "r")
    assert [r[0] for r in record["screen_label_curve"]] == [1, 2]
    for (_, total, *_), (_, accuracy, label_loss) in zip(
        record["loss_curve"], record["screen_label_curve"], strict=True
    ):  # the loss curve's total holds the label loss (weight 1) and the answers'
        assert 0.0 <= accuracy <= 1.0 and 0.0 < label_loss < total
    with pytest.raises(ConfigError, match="screen_labels"):
        _config(demos, screen_labels=-1.0)
    with pytest.raises(ConfigError, match="LoRA"):
        _config(demos, init=str(tmp_path / "r"), lora_rank=2)
    sizes: list[int] = []
    small = Trainer(_config(demos, screen_batch=3), tmp_path / "b")
    screen_loss = small._screen_loss
    small._screen_loss = lambda index: sizes.append(len(set(index))) or screen_loss(index)
    small.train_step()
    assert sizes == [3]  # distinct screens, screen_batch of them
    with pytest.raises(ConfigError, match="screen_batch"):
        _config(demos, screen_batch=0)
    with pytest.raises(ConfigError, match="suites ui, miniwob, robot; got desktop"):
        _config(demos, screen_suites=("desktop",))
    train(_config(demos, steps=3, screen_labels=0.0), tmp_path / "n", until=1)
    plain, labelled = (load_file(tmp_path / d / "model.safetensors") for d in ("n", "r"))
    assert plain.keys() == labelled.keys()  # the head trains, the checkpoint never holds it
    with pytest.raises(ConfigError, match="without screen labels"):
        train(_config(demos, steps=3), tmp_path / "n", resume=True)


@pytest.mark.mujoco
def test_robot_screens_label_the_tokens_under_the_block_and_the_target() -> None:
    need(mujoco_missing())
    push = "agent_sdk/robot-push-v0"
    screens = screen_labels((push,), 3, 320, 25, seed=7)
    assert set(screens.vocab) == {NOTHING, "gripper", "block", "black", "target", "red"}
    env = gym.make(push)
    try:
        for i in range(3):  # each screen after 0 to 2 expert steps; the block and target stay put
            env.reset(seed=7 + i)
            labels = {(t, screens.vocab[w]) for t, w in screens.pairs[i].tolist()}
            for element in env.unwrapped.elements():
                if element.role != "gripper":
                    token = token_of(*element.center, env.unwrapped.width, env.unwrapped.height, 5)
                    assert {(token, word) for word in element.words} <= labels
    finally:
        env.close()


def test_screen_envs_choose_and_weight_the_labelled_screens(demos: Path, tmp_path: Path) -> None:
    button = "agent_sdk/ui-click-button-v0"
    envs = (SHAPES[0], SHAPES[0], button)  # shapes get two shares of three
    trainer = Trainer(_config(demos, screen_envs=envs, screen_count=6), tmp_path / "t")
    assert trainer.screens is not None
    alone = screen_labels(envs, 6, 128, 4)  # the tiny model sees 128 px, 4 tokens
    assert trainer.screens.vocab == alone.vocab
    assert all(torch.equal(a, b) for a, b in zip(trainer.screens.pairs, alone.pairs, strict=True))
    shape_words = {w for i in (0, 1, 3, 4) for _, w in alone.pairs[i].tolist()}
    button_words = {w for i in (2, 5) for _, w in alone.pairs[i].tolist()}
    assert {alone.vocab[w] for w in shape_words} & {"circle", "square", "triangle", "star",
                                                    "diamond", "hexagon", "pentagon"}  # fmt: skip
    assert "button" in {alone.vocab[w] for w in button_words}
    with pytest.raises(ConfigError, match="ui-click-shape-v0"):  # the nearest, named
        _config(demos, screen_envs=("agent_sdk/ui-click-shapes-v0",))
    with pytest.raises(ConfigError, match="'CartPole-v1' is none of them"):
        _config(demos, screen_envs=("CartPole-v1",))  # Gymnasium's own: no elements listed
    train(_config(demos, steps=2, screen_count=4), tmp_path / "r", until=1)
    with pytest.raises(ConfigError, match="same --screen-suite, --screen-env"):
        train(_config(demos, steps=2, screen_count=4, screen_envs=SHAPES), tmp_path / "r",
              resume=True)  # fmt: skip


def test_tower_warmup_trains_the_vision_tower_alone_then_the_whole_model(
    demos: Path, tmp_path: Path
) -> None:
    config = _config(demos, steps=4, tower_warmup=2, screen_batch=3)
    trainer = Trainer(config, tmp_path / "t")
    assert trainer.warming_up and trainer.step_examples() == 3

    def weights(prefix: str) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in trainer.model.named_parameters()
                if n.startswith(prefix)}  # fmt: skip

    llm, tower = weights("model.language_model"), weights("model.vision_tower")
    assert llm and tower
    for _ in range(2):
        loss, accuracy = trainer.train_step()
        assert loss > 0 and math.isnan(accuracy)  # no answers in the warm-up
    assert all(torch.equal(p, weights("model.language_model")[n]) for n, p in llm.items())
    assert any(not torch.equal(p, weights("model.vision_tower")[n]) for n, p in tower.items())
    assert not trainer.warming_up and trainer.step_examples() == config.batch_size
    _, accuracy = trainer.train_step()
    assert 0.0 <= accuracy <= 1.0
    assert any(not torch.equal(p, weights("model.language_model")[n]) for n, p in llm.items())
    record = train(config, tmp_path / "r")
    assert [row[2] is None for row in record["loss_curve"]] == [True, True, False, False]
    assert [r[0] for r in record["screen_label_curve"]] == [1, 2, 3, 4]
    train(config, tmp_path / "s", until=1)  # stopped inside the warm-up, then resumed
    train(config, tmp_path / "s", resume=True)
    straight, again = (load_file(tmp_path / d / "model.safetensors") for d in ("r", "s"))
    assert all(torch.equal(straight[k], again[k]) for k in straight)
    with pytest.raises(ConfigError, match="give --screen-labels"):
        _config(demos, tower_warmup=2, screen_labels=0.0)
    with pytest.raises(ConfigError, match="tower_warmup"):
        _config(demos, tower_warmup=-1)
