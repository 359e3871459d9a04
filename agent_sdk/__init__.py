"""The agent: the LangGraph planner, policies, evaluation and the ``agent-sdk`` CLI.

import gymnasium as gym, envs
from agent_sdk import Agent, VLMPolicy
from perception import load_vlm

agent = Agent(VLMPolicy(load_vlm("path/to/FastVLM-0.5B")), max_steps=20)
trajectory = agent.run_episode(gym.make("agent_sdk/ui-click-button-v0"), seed=0)
"""

from agent_sdk.agent import Agent
from agent_sdk.environment import Environment, GymEnvironment
from agent_sdk.policies import (
    OraclePolicy,
    PlannerGrounderPolicy,
    Policy,
    RandomPolicy,
    VLMPolicy,
)
from agent_sdk.records import StepRecord, Trajectory

__all__ = [
    "Agent",
    "Environment",
    "GymEnvironment",
    "OraclePolicy",
    "PlannerGrounderPolicy",
    "Policy",
    "RandomPolicy",
    "StepRecord",
    "Trajectory",
    "VLMPolicy",
]
