"""Fakes for the agent's tests: a scripted VLM and a guard that asks before typing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from actions.coords import ScreenFrame
from actions.schema import ActionBase, TypeText
from perception.base import Generation, Timings

TIMINGS = Timings(0.001, 0.002, 0.003, 0.006, 0.004, 250.0, 16, 64, 2)


@dataclass
class ScriptedVLM:
    """Answers with ``answers`` in turn (the last one forever), as a model that ignores any
    grammar would, and records every prompt and grammar."""

    answers: Sequence[str]
    name: str = "scripted"
    prompts: list[str] = field(default_factory=list)
    grammars: list[str | None] = field(default_factory=list)

    def generate(
        self,
        image: Any,
        prompt: str,
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        grammar: str | None = None,
    ) -> Generation:
        self.prompts.append(prompt)
        self.grammars.append(grammar)
        text = self.answers[min(len(self.prompts), len(self.answers)) - 1]
        return Generation(text, [], "stop", TIMINGS)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    needs_approval: bool = False
    reason: str | None = None


@dataclass
class AskBeforeTyping:
    """Allows everything, but typing needs a person's approval; ``block`` refuses everything."""

    block: bool = False
    checked: list[ActionBase] = field(default_factory=list)

    def reset(self) -> None:
        self.checked.clear()

    def check(self, action: ActionBase, frame: ScreenFrame) -> Verdict:
        self.checked.append(action)
        if self.block:
            return Verdict(False, reason="everything is blocked")
        if isinstance(action, TypeText):
            return Verdict(True, True, "typing needs approval")
        return Verdict(True)
