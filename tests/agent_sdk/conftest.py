"""Fixtures shared by the agent's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

DEMO_ENVS = ("agent_sdk/ui-click-button-v0", "agent_sdk/ui-enter-text-v0")
"""The GUI tasks the training tests collect from: one clicking task, one typing task."""


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for training tests: tiny models gain nothing from more, and a busy
    machine's spinning OpenMP threads make each step up to 50x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demonstration set (3 oracle episodes of each of `DEMO_ENVS`, 30 % random
    clicks, 4 examples per shard) for the training and fine-tuning tests."""
    from agent_sdk.collect import CollectConfig, collect

    out = tmp_path_factory.mktemp("demos")
    collect(CollectConfig(env_ids=DEMO_ENVS, episodes=3, noise=0.3, shard_size=4), out)
    return out
