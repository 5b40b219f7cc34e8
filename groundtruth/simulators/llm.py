"""A simulated user played by a model behind any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama).

Goal-state steering: before every reply the model is shown its current UGST goal state, and it answers with
`{"reply": ..., "done": bool, "goal_state": {...}}` (JSON mode). Whatever it proposes is validated field by
field; a malformed field keeps the previous value, so a weak model can stall its goal state but never corrupt
it or crash the episode. The agent's private reasoning is stripped before the model sees a message, and the
model's own reasoning and stop tokens are stripped before the agent sees the reply.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI, OpenAIError

from groundtruth.errors import GroundtruthError, InfrastructureError
from groundtruth.records import Claim, GoalState, Judgment
from groundtruth.simulators.base import StateView, TrackedGoalState, UserTurn
from groundtruth.simulators.goalstate import (
    initial_state,
    judged_objectives,
    merge_goal_state,
    summary_lines,
    view_summary,
)
from groundtruth.simulators.text import (
    STOP_TOKENS,
    asked_about,
    drop_private_fields,
    split_stop,
    strip_reasoning,
    strip_reasoning_blocks,
)
from groundtruth.tasks.spec import Goal, Task

SYSTEM = """You play a HUMAN USER who asked an AI assistant to do a job on a computer. You are the user, never
the assistant. Write one to three short sentences. Use only facts from your profile and goal below.
Goal state = what you believe now. objectives/requirements: COMPLETE (the assistant said it is done and you
accept that), ATTEMPTED (it tried but was blocked) or INCOMPLETE. profile/policy/preferences: ALIGNED while
you stay true to them, else MISALIGNED. Set "done" to true to end the conversation.
Answer with one JSON object: {"reply": "<your message>", "done": false, "goal_state": {...}}"""

JUDGE = """The conversation is over. As the user, was the job really done? Answer with one JSON object:
{"success": true or false, "objectives": {"<objective id>": true or false}, "reason": "<one sentence>",
"goal_state": {...}}"""

_REPLY_KEYS = ("reply", "message", "response", "content", "text", "user")


def llm_client(base_url: str | None = None, model: str | None = None,
               api_key: str | None = None) -> tuple[OpenAI, str]:
    base = base_url or os.environ.get("GROUNDTRUTH_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    name = model or os.environ.get("GROUNDTRUTH_LLM_MODEL") or os.environ.get("OPENAI_MODEL")
    key = api_key or os.environ.get("GROUNDTRUTH_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "none"
    if not base or not name:
        raise GroundtruthError(
            "the llm simulator needs an endpoint and a model: set GROUNDTRUTH_LLM_BASE_URL and "
            "GROUNDTRUTH_LLM_MODEL (or --simulator 'llm:MODEL@BASE_URL')")
    return OpenAI(base_url=base, api_key=key, timeout=120.0, max_retries=2), name


def json_object(text: str) -> dict[str, Any] | None:
    """The JSON object of a reply: whole, fenced in ``` or after some prose; None if there is none.

    Only the first `{` is tried: when that object is broken, a later `{` is one of its nested values, and
    taking it for the answer would misread the reply (`salvage` reads what it can instead)."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body[4:] if body.lower().startswith("json") else body
    start = body.find("{")
    if start < 0:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(body[start:])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


_STRING_FIELD = r'"{key}"\s*:\s*"((?:[^"\\]|\\.)*)'
_BOOL_FIELD = r'"{key}"\s*:\s*"?(true|false)\b'


def salvage(text: str, strings: Sequence[str] = (), booleans: Sequence[str] = ()) -> dict[str, Any]:
    """Fields of a JSON answer cut off by the token budget: the first string of that name, read up to where it
    stops, and the first boolean of that name if it was written out (at any depth: a cut-off answer has no
    reliable structure left)."""
    out: dict[str, Any] = {}
    for key in strings:
        m = re.search(_STRING_FIELD.format(key=re.escape(key)), text)
        if m:
            try:
                out[key] = json.loads(f'"{m.group(1)}"')
            except json.JSONDecodeError:
                out[key] = m.group(1)
    for key in booleans:
        m = re.search(_BOOL_FIELD.format(key=re.escape(key)), text, re.I)
        if m:
            out[key] = m.group(1).lower() == "true"
    return out


def as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
            value.strip().lower())
    return None


@dataclass
class ParsedReply:
    reply: str
    done: bool
    goal_state: object = None
    problems: list[str] = field(default_factory=list)


_NOT_SAID = {"done", "stop", "goal_state", "objectives", "requirements", "preferences", "profile", "policy"}


def _read_out(data: dict[str, Any]) -> str:
    """Small models often answer in fields (`{"name": "Sam"}`) instead of a reply: the user says those."""
    public = drop_private_fields(data)
    said = {k: v for k, v in public.items() if k not in _NOT_SAID and k not in _REPLY_KEYS}
    return "; ".join(f"{str(k).replace('_', ' ')}: {v}" for k, v in said.items()
                     if isinstance(v, str | int | float) and not isinstance(v, bool))


def parse_user_reply(content: str, stop_tokens: tuple[str, ...] = STOP_TOKENS) -> ParsedReply:
    """The model's turn as the agent will see it. A stop token anywhere (also glued to a word, also outside the
    JSON) ends the dialogue and is removed; the model's own reasoning is removed too."""
    problems: list[str] = []
    visible = strip_reasoning_blocks(content)
    data = json_object(visible)
    goal_state: object = None
    done = False
    if data is None and visible.lstrip().startswith(("{", "```")):
        data = salvage(visible, strings=_REPLY_KEYS, booleans=("done", "stop"))
        problems.append("reply was cut-off JSON")
    if data is None:
        reply = content
        problems.append("reply was not a JSON object")
    else:
        reply = next((data[k] for k in _REPLY_KEYS if isinstance(data.get(k), str)), "")
        if not reply:
            reply = _read_out(data)
            problems.append("no reply field" + ("; read out its other fields" if reply else ""))
        raw_done = data.get("done", data.get("stop", False))
        parsed_done = as_bool(raw_done)
        if parsed_done is None:
            problems.append(f"done: {raw_done!r} is not a boolean")
        done = bool(parsed_done)
        goal_state = data.get("goal_state")
    reply = strip_reasoning(reply)
    reply, stopped = split_stop(reply, stop_tokens)
    _, stopped_anywhere = split_stop(content, stop_tokens)
    reply = reply.strip().strip('"').strip()
    return ParsedReply(reply=reply, done=done or stopped or stopped_anywhere, goal_state=goal_state,
                       problems=problems)


def persona(goal: Goal) -> str:
    """The instruction is not repeated: it is the first message of the dialogue the model is shown."""
    g = goal
    lines = ["Who you are (profile):"]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in sorted(g.profile.items())] or ["- (nothing special)"]
    if g.policy:
        lines += ["Your rules (policy):", *[f"- {p}" for p in g.policy]]
    lines += ["What you want done (objectives):", *[f"- {o.id}: {o.text}" for o in g.objectives]]
    if g.requirements:
        lines += ["Your requirements:", *[f"- {r.id} (for {r.objective}): {r.text}" for r in g.requirements]]
    if g.preferences:
        lines += ["Your preferences:", *[f"- {p.id}: {p.text}" for p in g.preferences]]
    if g.knowledge:
        lines += ["What you know (say it only when the assistant asks about it):",
                  *[f"- about {', '.join(k.about)}: {k.answer}" for k in g.knowledge]]
        lines.append(f"If the assistant asks something you do not know, say: {g.unknown_answer}")
    return "\n".join(lines)


def _state_json(state: GoalState) -> str:
    return json.dumps(state.model_dump(mode="json", include={"objectives", "requirements", "preferences",
                                                             "profile", "policy"}))


class LLMSimulator:
    """`sees_state` gives the judge the per-check statuses, summarised per objective (the user looked)."""

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None, *,
                 sees_state: bool = False, temperature: float = 0.0, max_tokens: int = 200, history: int = 12,
                 stop_tokens: tuple[str, ...] = STOP_TOKENS, name: str | None = None) -> None:
        self.client, self.model = llm_client(base_url, model, api_key)
        self.name = name or f"llm:{self.model}" + (",sees=true" if sees_state else "")
        self.sees_state = sees_state
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.history = history
        self.stop_tokens = stop_tokens
        self.raw_replies: list[str] = []
        self.last_request: list[dict[str, str]] = []
        self._task: Task | None = None
        self._variant = ""
        self._seed = 0
        self._messages: list[dict[str, str]] = []
        self._states: list[TrackedGoalState] = []
        self._final: TrackedGoalState | None = None
        self._ended = False

    @property
    def goal(self) -> Goal:
        assert self._task is not None, "start() first"
        return self._task.spec.goal

    def start(self, task: Task, variant: str, seed: int) -> UserTurn:
        """The opening is the task's instruction word for word: the verifier checks that instruction, so a
        paraphrase by a weak model would change the task before the agent has even started."""
        self._task, self._variant, self._seed = task, variant, seed
        text = task.spec.instruction_for(variant).strip()
        self._messages = [{"role": "assistant", "content": text}]
        self._ended = False
        self._final = None
        self._told: set[str] = set()
        self._states = [initial_state(task.spec.goal).model_copy(update={"said": text, "notes": ["opening"]})]
        return UserTurn(message=text, goal_state=self._states[0])

    def _complete(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        self.last_request = messages
        payload: list[Any] = messages
        try:
            resp = self.client.chat.completions.create(
                model=self.model, temperature=self.temperature, max_tokens=max_tokens, seed=self._seed,
                response_format={"type": "json_object"}, messages=payload)
        except OpenAIError as exc:
            raise InfrastructureError(f"the simulator's LLM endpoint failed: {exc}") from exc
        content = resp.choices[0].message.content or ""
        self.raw_replies.append(content)
        return content

    def _system(self, state: GoalState, due: Sequence[str] = ()) -> str:
        assert self._task is not None
        text = (f"{SYSTEM}\n\n{persona(self._task.spec.goal)}\n\n"
                f"Your goal state right now (update it in your reply): {_state_json(state)}")
        if due:
            text += "\n\nSay this in your reply, in your own words: " + " ".join(due)
        return text

    def _due(self, heard: str, turn: int) -> list[str]:
        """What the user should say now: answers to what was asked, and facts due unasked at this turn. The
        same rule as the scripted user, so that a weak model is told the fact instead of having to find it."""
        g = self.goal
        asked = set(asked_about(g, heard))
        due = []
        for k in g.knowledge:
            if k.id in asked or (k.volunteer_at is not None and turn >= k.volunteer_at and k.id not in self._told):
                due.append(k.answer)
                self._told.add(k.id)
        return due

    def respond(self, agent_message: str) -> UserTurn:
        assert self._task is not None, "start() first"
        prev = self._states[-1]
        turn = prev.turn + 1
        heard = strip_reasoning(agent_message)
        if self._ended:
            state = prev.model_copy(update={"turn": turn, "heard": heard, "said": "",
                                            "notes": ["the user has already left"]})
            self._states.append(state)
            return UserTurn(message="", done=True, goal_state=state)
        self._messages.append({"role": "user", "content": heard or "(the assistant sent an empty message)"})
        due = self._due(heard, turn)
        window = [{"role": "system", "content": self._system(prev, due)}, self._messages[0],
                  *self._messages[1:][-self.history:]]
        parsed = parse_user_reply(self._complete(window, self.max_tokens), self.stop_tokens)
        state, problems = merge_goal_state(prev, parsed.goal_state, self.goal, turn)
        reply = parsed.reply or ("" if parsed.done else "Please go on.")
        self._messages.append({"role": "assistant", "content": reply or "(ends the conversation)"})
        self._ended = parsed.done
        notes = [f"kept previous: {p}" for p in parsed.problems + problems]
        if due:
            notes.append(f"was told to say what it knows: {sorted(self._told)}")
        state = state.model_copy(update={"heard": heard, "said": reply, "notes": notes})
        self._states.append(state)
        return UserTurn(message=reply, done=parsed.done, goal_state=state)

    def judge(self, claim: Claim | None, view: StateView | None = None) -> Judgment:
        """No claim: nothing to judge, rejected without asking the model (as the scripted user does).

        A malformed verdict falls back to what the user saw (with a view) or to rejection (without one): a
        user who cannot say that the job is done has not accepted it. For the same reason a success with an
        objective judged not done is a rejection.
        """
        assert self._task is not None, "start() first"
        g, prev = self.goal, self._states[-1]
        objective_ids = [o.id for o in g.objectives]
        if claim is None:
            judgment = Judgment(simulator=self.name, success=False, objectives=dict.fromkeys(objective_ids, False),
                                reason="the agent never reported back")
            self._final = self._judged_state(None, judgment, None, [])
            return judgment
        summary = view_summary(g, view) if view is not None else None
        report = [f"success: {claim.success}", f"confidence: {claim.confidence:.2f}",
                  f"summary: {strip_reasoning(claim.summary) or '(none)'}"]
        if claim.objectives:
            report.append("per objective: " + ", ".join(f"{k}={v}" for k, v in claim.objectives.items()))
        parts = [JUDGE, "The assistant's final report:\n" + "\n".join(report)]
        if summary is not None:
            parts.append("You looked at the system yourself. What you saw, per objective:\n"
                         + "\n".join(summary_lines(summary)))
        transcript = [f"{'YOU' if m['role'] == 'assistant' else 'ASSISTANT'}: {m['content']}"
                      for m in self._messages[-self.history:]]
        messages = [{"role": "system", "content": self._system(prev)},
                    {"role": "user", "content": "Transcript:\n" + "\n".join(transcript) + "\n\n" + "\n\n".join(parts)}]
        answer = strip_reasoning_blocks(self._complete(messages, self.max_tokens + 100))
        data = json_object(answer)
        problems: list[str] = []
        if data is None:
            data = salvage(answer, strings=("reason",), booleans=("success",))
            problems.append("verdict was not a whole JSON object")
        saw = {item.split(" ", 1)[1]: all(s == "pass" for s in checks.values())
               for item, checks in (summary or {}).items()}
        fallback_objectives = {o: saw.get(o, False) for o in objective_ids}
        success = as_bool(data.get("success"))
        if success is None:
            problems.append(f"success: {data.get('success')!r} is not a boolean")
            success = all(fallback_objectives.values()) if summary is not None else False
        raw = data.get("objectives")
        per: dict[str, bool] = {}
        for o in objective_ids:
            value = as_bool(raw.get(o)) if isinstance(raw, dict) else None
            per[o] = value if value is not None else (fallback_objectives[o] if summary is not None else success)
        reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
        reason = strip_reasoning(str(reason))[:500] or ("; ".join(problems) or "no reason given")
        if success and not all(per.values()):  # done means every objective done
            problems.append("success although an objective is not done")
            success = False
        judgment = Judgment(simulator=self.name, success=success, objectives=per, reason=reason)
        self._final = self._judged_state(claim, judgment, data.get("goal_state"), problems)
        return judgment

    def _judged_state(self, claim: Claim | None, judgment: Judgment, proposed: object,
                      problems: list[str]) -> TrackedGoalState:
        """The model's proposed final state, with objectives forced to agree with its own verdict."""
        prev = self._states[-1]
        state, more = merge_goal_state(prev, proposed, self.goal, prev.turn + 1)
        objectives = judged_objectives(self.goal, claim, judgment.objectives, prev)
        return state.model_copy(update={
            "stage": "judgment", "objectives": objectives,
            "heard": None if claim is None else strip_reasoning(claim.summary), "said": judgment.reason,
            "notes": [f"kept previous: {p}" for p in problems + (more if proposed is not None else [])],
        })

    def goal_states(self) -> list[GoalState]:
        return [*self._states, *([self._final] if self._final is not None else [])]

    def close(self) -> None:
        self.client.close()

