"""Agents by name: the scripted reference agents, `cmd:COMMAND`, and `llm[:MODEL[@BASE_URL]]`."""

from __future__ import annotations

from groundtruth.agents.base import Agent, EpisodeContext, EpisodeEnd
from groundtruth.agents.scripted import SCRIPTED
from groundtruth.errors import GroundtruthError


def make_agent(spec: str) -> Agent:
    if spec in SCRIPTED:
        return SCRIPTED[spec]()
    if spec.startswith("cmd:"):
        from groundtruth.agents.process import ProcessAgent

        return ProcessAgent(spec[4:], name=spec)
    if spec == "llm" or spec.startswith("llm:"):
        from groundtruth.agents.llm import LLMAgent

        rest = spec[4:] if spec.startswith("llm:") else ""
        model, _, base = rest.partition("@")
        return LLMAgent(base_url=base or None, model=model or None)
    known = ", ".join([*SCRIPTED, "cmd:COMMAND", "llm[:MODEL[@BASE_URL]]"])
    raise GroundtruthError(f"unknown agent {spec!r}; known: {known}")


__all__ = ["SCRIPTED", "Agent", "EpisodeContext", "EpisodeEnd", "make_agent"]
