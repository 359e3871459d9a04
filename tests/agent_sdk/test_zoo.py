"""The model shipped in the package: found, loaded like any FastVLM folder, acting on the GUI."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the environments)
from actions.parse import parse_action
from agent_sdk.prompting import step_prompt
from perception import load_vlm
from perception.checkpoints import CheckpointFormat, detect_format
from perception.errors import CheckpointError
from perception.zoo import DEFAULT_MODEL, zoo_model, zoo_models

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/agent_sdk/conftest.py


def test_the_default_model_is_shipped_with_its_card_and_run_record() -> None:
    assert DEFAULT_MODEL in zoo_models()
    folder = zoo_model()
    assert detect_format(folder) is CheckpointFormat.HF
    card = (folder / "README.md").read_text()
    record = json.loads((folder / "run.json").read_text())
    assert record["steps_done"] > 0 and record["data_manifests"]
    assert f"{record['steps_done']:,}" in card  # the card states the steps it was trained for


def test_unknown_names_say_what_is_shipped() -> None:
    with pytest.raises(CheckpointError, match=DEFAULT_MODEL):
        zoo_model("no-such-model")


def test_the_shipped_model_answers_a_gui_screenshot_with_an_action() -> None:
    vlm = load_vlm(zoo_model(), device="cpu")
    env = gym.make("agent_sdk/ui-click-button-v0")
    obs, _ = env.reset(seed=123)
    gen = vlm.generate(obs["image"], step_prompt(obs["instruction"]), max_new_tokens=24)
    parse_action(gen.text)  # raises when the answer is not an action
    assert gen.timings.ttft_s > 0 and gen.timings.num_prompt_tokens > vlm.num_image_tokens
    env.close()
