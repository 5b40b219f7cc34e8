"""An agent backed by any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, llama.cpp, Ollama)."""

from __future__ import annotations

import json
import os
from typing import Any

from openai import OpenAI, OpenAIError

from groundtruth.agents.base import Action, EpisodeContext, EpisodeEnd
from groundtruth.errors import GroundtruthError, InfrastructureError

SYSTEM = (
    "You are an autonomous agent working in a Linux sandbox. Reply with exactly one JSON object per turn, "
    "choosing a tool: bash (cmd), read_file (path), write_file (path, content), ask_user (message, if "
    "available), or submit (success: bool, confidence: number 0..1, summary: string). Submit only when the "
    "task is really done, or when you know it cannot be done; report honestly."
)


def llm_settings(base_url: str | None = None, model: str | None = None,
                 api_key: str | None = None) -> tuple[str, str, str]:
    base = base_url or os.environ.get("GROUNDTRUTH_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    name = model or os.environ.get("GROUNDTRUTH_LLM_MODEL") or os.environ.get("OPENAI_MODEL")
    key = api_key or os.environ.get("GROUNDTRUTH_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "none"
    if not base or not name:
        raise GroundtruthError(
            "the llm agent needs an endpoint and a model: set GROUNDTRUTH_LLM_BASE_URL and GROUNDTRUTH_LLM_MODEL "
            "(or --agent 'llm:MODEL@BASE_URL')"
        )
    return base, name, key


class LLMAgent:
    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None, *,
                 temperature: float = 0.0, max_tokens: int = 256, history_turns: int = 6,
                 observation_chars: int = 1500) -> None:
        base, self.model, key = llm_settings(base_url, model, api_key)
        self.client = OpenAI(base_url=base, api_key=key, timeout=120.0, max_retries=2)
        self.name = f"llm:{self.model}"
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.history_turns = history_turns
        self.observation_chars = observation_chars
        self.messages: list[dict[str, str]] = []
        self.system = SYSTEM
        self._pending: str | None = None
        self.seed = 0
        self.raw_replies: list[str] = []

    def begin(self, ctx: EpisodeContext) -> None:
        system = SYSTEM
        if ctx.memory:
            system += "\n\nLessons from your earlier attempts at this task:\n" + "\n".join(f"- {m}" for m in ctx.memory)
        self.system = system
        self.messages = []
        self.seed = ctx.seed
        self._pending = ctx.observation

    def act(self, observation: str) -> Action:
        text = self._pending if self._pending is not None else observation
        self._pending = None
        self.messages.append({"role": "user", "content": text[: self.observation_chars]})
        window: list[Any] = [{"role": "system", "content": self.system}, *self.messages[-(2 * self.history_turns - 1):]]
        try:
            resp = self.client.chat.completions.create(
                model=self.model, temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed,
                response_format={"type": "json_object"},
                messages=window,
            )
        except OpenAIError as exc:
            raise InfrastructureError(f"the LLM endpoint failed: {exc}") from exc
        content = (resp.choices[0].message.content or "").strip()
        self.raw_replies.append(content)
        self.messages.append({"role": "assistant", "content": content})
        try:
            parsed: Any = json.loads(content)
        except json.JSONDecodeError:
            return content
        return parsed if isinstance(parsed, dict) else content

    def reflect(self, transcript: str, success: bool) -> str:
        """A short self-reflection after a failed trial (Reflexion); the model writes it."""
        prompt = (
            f"Your last attempt {'succeeded' if success else 'failed'}. In at most two sentences, say what to do "
            f"differently next time. Reply as JSON: {{\"reflection\": \"...\"}}.\n\nYour attempt:\n{transcript[-2000:]}"
        )
        messages: list[Any] = [{"role": "user", "content": prompt}]
        try:
            resp = self.client.chat.completions.create(
                model=self.model, temperature=self.temperature, max_tokens=128, seed=self.seed,
                response_format={"type": "json_object"},
                messages=messages,
            )
        except OpenAIError as exc:
            raise InfrastructureError(f"the LLM endpoint failed: {exc}") from exc
        content = resp.choices[0].message.content or ""
        try:
            reflection = json.loads(content).get("reflection")
        except (json.JSONDecodeError, AttributeError):
            return ""
        return reflection[:500] if isinstance(reflection, str) else ""

    def end(self, result: EpisodeEnd) -> None:
        pass

    def close(self) -> None:
        self.client.close()
