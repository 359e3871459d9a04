"""The agent: a thin facade over the graph that runs, streams and resumes episodes.

Usage::

    import gymnasium as gym, envs
    from agent_sdk.agent import Agent
    from agent_sdk.policies import VLMPolicy
    from perception.base import load_vlm

    agent = Agent(VLMPolicy(load_vlm("checkpoints/fastvlm-0.5b")), max_steps=20)
    traj = agent.run_episode(gym.make("agent_sdk/ui-click-button-v0"), seed=0)
    print(traj.success, [s.action_text for s in traj.steps])

    for event in agent.stream_episode(env, seed=1):   # typed events, step by step
        ...
    traj = agent.resume(thread_id, approved=True)     # after an ApprovalRequest

With the default in-memory checkpointer a finished episode is forgotten once its trajectory is
returned; give ``checkpoint_path`` to keep every episode in a SQLite file and resume a paused one
from another ``Agent`` (pass it the same live environment).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from langgraph.types import Command

from agent_sdk.environment import Environment, as_environment
from agent_sdk.errors import AgentError, ConfigError
from agent_sdk.events import (
    AgentEvent,
    ApprovalRequest,
    EndEvent,
    ObservationEvent,
    StepEvent,
    events_from_updates,
)
from agent_sdk.graph import (
    NODES_PER_STEP,
    AgentDeps,
    Guard,
    build_graph,
    initial_state,
    make_checkpointer,
)
from agent_sdk.policies import Policy
from agent_sdk.records import Trajectory


class Agent:
    """Runs a policy through the graph, with an optional guard and a step budget."""

    def __init__(
        self,
        policy: Policy,
        guard: Guard | None = None,
        max_steps: int = 50,
        checkpoint_path: str | Path | None = None,
        keep_images: bool = True,
    ) -> None:
        if max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {max_steps}")
        self.policy, self.guard, self.max_steps = policy, guard, max_steps
        self.keep_images = keep_images  # attach each step's observation image to its record
        self.persistent = checkpoint_path is not None
        self.checkpointer = make_checkpointer(checkpoint_path)
        self.graph = build_graph(self.checkpointer)
        self._envs: dict[str, Environment] = {}
        self._images: dict[str, dict[int, np.ndarray]] = {}

    # -- episodes -----------------------------------------------------------------------------
    def stream_episode(
        self,
        env: Environment | gym.Env,
        seed: int | None = None,
        *,
        instruction: str | None = None,
        thread_id: str | None = None,
    ) -> Iterator[AgentEvent]:
        """Reset ``env`` and run an episode, yielding its events; it ends with an
        :class:`~agent_sdk.events.EndEvent`, or an ``ApprovalRequest`` when it pauses."""
        thread_id = thread_id or uuid.uuid4().hex
        if self.graph.get_state(_config(thread_id)).values:
            raise AgentError(f"thread id {thread_id!r} already holds an episode; use a new one")
        environment = as_environment(env, instruction)
        obs = environment.reset(seed)
        self.policy.reset(obs.instruction)
        if self.guard is not None:
            self.guard.reset()
        self._envs[thread_id] = environment
        yield from self._stream(thread_id, initial_state(obs.instruction, self.max_steps))

    def run_episode(
        self,
        env: Environment | gym.Env,
        seed: int | None = None,
        *,
        instruction: str | None = None,
        thread_id: str | None = None,
    ) -> Trajectory:
        """Run an episode to its end (or its first pause for approval)."""
        thread_id = thread_id or uuid.uuid4().hex
        events = self.stream_episode(env, seed, instruction=instruction, thread_id=thread_id)
        return self._drain(thread_id, events)

    def run(
        self,
        instruction: str,
        env: gym.Env,
        seed: int | None = None,
        *,
        thread_id: str | None = None,
    ) -> Trajectory:
        """Do ``instruction`` in a Gymnasium env that takes one (the live desktop, say)."""
        return self.run_episode(env, seed, instruction=instruction, thread_id=thread_id)

    def stream_resume(
        self, thread_id: str, approved: bool, env: Environment | None = None
    ) -> Iterator[AgentEvent]:
        """Answer a paused episode's approval request and go on, yielding events.

        ``env`` is the episode's live environment; this agent remembers the ones it started.
        """
        if isinstance(env, gym.Env):
            raise AgentError(
                "pass the Environment the episode started with (e.g. its GymEnvironment), "
                "not the bare Gymnasium env: the adapter holds the latest observation"
            )
        if env is not None:
            self._envs[thread_id] = env
        pending = self.trajectory(thread_id).pending
        if pending is None:
            raise AgentError(f"episode {thread_id!r} is not waiting for an approval")
        yield from self._stream(thread_id, Command(resume={"approved": approved}))

    def resume(self, thread_id: str, approved: bool, env: Environment | None = None) -> Trajectory:
        """Answer a paused episode's approval request and run on to the end or the next pause."""
        return self._drain(thread_id, self.stream_resume(thread_id, approved, env))

    def trajectory(self, thread_id: str) -> Trajectory:
        """The episode as checkpointed (images only for the steps this agent ran)."""
        snapshot = self.graph.get_state(_config(thread_id))
        state = snapshot.values
        if not state:
            raise AgentError(
                f"no episode {thread_id!r} in the checkpointer; a finished episode is kept only "
                "with Agent(checkpoint_path=...)"
            )
        images = self._images.get(thread_id, {})
        pending = [ApprovalRequest(thread_id=thread_id, **i.value) for i in snapshot.interrupts]
        return Trajectory(
            thread_id=thread_id,
            instruction=state["instruction"],
            steps=[replace(r, image=images.get(r.step)) for r in state["history"]],
            success=state["success"],
            end=state["end"],
            pending=pending[0] if pending else None,
        )

    def close(self) -> None:
        """Close the checkpoint file, if any."""
        conn = getattr(self.checkpointer, "conn", None)
        if conn is not None:
            conn.close()

    # -- internals ----------------------------------------------------------------------------
    def _stream(self, thread_id: str, graph_input: Any) -> Iterator[AgentEvent]:
        env = self._envs.get(thread_id)
        if env is None:
            raise AgentError(
                f"episode {thread_id!r} needs its live environment: pass env= to resume"
            )
        state = self.graph.get_state(_config(thread_id)).values
        step = state.get("step", 0)
        images = self._images.setdefault(thread_id, {})
        if self.keep_images and state.get("observation") is not None:
            images.setdefault(step, state["observation"].image)  # a paused step's image
        remaining = state.get("max_steps", self.max_steps) - step
        config = _config(thread_id, recursion_limit=NODES_PER_STEP * remaining + 10)
        deps = AgentDeps(env=env, policy=self.policy, guard=self.guard)
        # in memory, checkpoint only at pauses and the end (saves ~1.5 ms a step); a SQLite file
        # gets every step, so a crashed process can resume where it was
        durability = "async" if self.persistent else "exit"
        chunks = self.graph.stream(
            graph_input, config, context=deps, stream_mode="updates", durability=durability
        )
        for event in events_from_updates(chunks, thread_id, step):
            if isinstance(event, ObservationEvent) and self.keep_images:
                images[event.step] = event.observation.image
            elif isinstance(event, StepEvent):
                event = StepEvent(replace(event.record, image=images.get(event.record.step)))
            yield event
        trajectory = self.trajectory(thread_id)
        if trajectory.end is not None:
            self._forget(thread_id)
            yield EndEvent(trajectory)

    def _drain(self, thread_id: str, events: Iterator[AgentEvent]) -> Trajectory:
        last: AgentEvent | None = None
        for event in events:
            last = event
        return last.trajectory if isinstance(last, EndEvent) else self.trajectory(thread_id)

    def _forget(self, thread_id: str) -> None:
        """Drop a finished episode's environment and images (and, in memory, its checkpoints)."""
        self._envs.pop(thread_id, None)
        self._images.pop(thread_id, None)
        if not self.persistent:
            self.checkpointer.delete_thread(thread_id)


def _config(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}, **extra}
