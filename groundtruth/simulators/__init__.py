"""User simulators by name: `scripted`, `scripted:p=0.5,forget=2`, `llm`, `llm:MODEL@URL,sees=true`, ..."""

from __future__ import annotations

import re

from pydantic import ValidationError

from groundtruth.errors import GroundtruthError
from groundtruth.simulators.base import Simulator, TrackedGoalState, UserTurn, VerdictView
from groundtruth.simulators.scripted import DriftKnobs, ScriptedSimulator

_KNOB_ALIASES = {
    "p": "accept_without_evidence",
    "forget": "forget_requirement_after",
    "contradict": "contradict_profile_at",
    "policy": "waive_policy_at",
    "prefs": "abandon_preferences_at",
    "end": "end_after",
    "reveal": "reveal",
    "sees": "sees_state",
}
_LLM_KNOBS = "sees, temperature, max_tokens, history"
_KNOB = re.compile(r"^\s*[a-z_]+\s*=")


def _scripted(spec: str, args: str) -> Simulator:
    knobs: dict[str, object] = {}
    for part in filter(None, args.split(",")):
        key, _, val = part.partition("=")
        field = _KNOB_ALIASES.get(key.strip(), key.strip())
        if field not in DriftKnobs.model_fields:
            raise GroundtruthError(f"simulator {spec!r}: unknown knob {key!r}; known: {sorted(_KNOB_ALIASES)}")
        knobs[field] = val.strip()
    try:
        parsed = DriftKnobs.model_validate(knobs)
    except ValidationError as exc:
        first = exc.errors()[0]
        knob = next((k for k, f in _KNOB_ALIASES.items() if f == first["loc"][0]), first["loc"][0]) \
            if first["loc"] else "?"
        raise GroundtruthError(f"simulator {spec!r}: bad value {first.get('input')!r} for knob {knob!r}: "
                               f"{first['msg']}") from exc
    return ScriptedSimulator(parsed, name=spec)


def _llm(spec: str, args: str) -> Simulator:
    """`llm[:MODEL[@BASE_URL]][,knob=value...]`; the endpoint part is whatever is not a knob, so URLs with
    colons and slashes pass through untouched."""
    from groundtruth.simulators.llm import LLMSimulator, as_bool

    endpoint = ""
    sees, temperature, numbers = False, 0.0, {"max_tokens": 200, "history": 12}
    for part in filter(None, args.split(",")):
        if not (_KNOB.match(part) and "@" not in part and "/" not in part):
            if endpoint:
                raise GroundtruthError(f"simulator {spec!r}: give one MODEL@BASE_URL, then knobs as key=value")
            endpoint = part.strip()
            continue
        key, _, val = (x.strip() for x in part.partition("="))
        try:
            if key in ("sees", "sees_state"):
                flag = as_bool(val)
                if flag is None:
                    raise ValueError(val)
                sees = flag
            elif key == "temperature":
                temperature = float(val)
            elif key in numbers:
                numbers[key] = int(val)
            else:
                raise GroundtruthError(f"simulator {spec!r}: unknown knob {key!r}; known: {_LLM_KNOBS}")
        except ValueError as exc:
            raise GroundtruthError(f"simulator {spec!r}: bad value {val!r} for knob {key!r}") from exc
    model, _, base = endpoint.partition("@")
    return LLMSimulator(base_url=base or None, model=model or None, sees_state=sees,
                        temperature=temperature, max_tokens=numbers["max_tokens"], history=numbers["history"])


def make_simulator(spec: str) -> Simulator:
    """`NAME[:k=v,...]`; e.g. `scripted:p=0.3,forget=2` or `llm:smollm2@http://127.0.0.1:8765/v1,sees=true`.

    Unknown names or knobs are clear errors."""
    name, _, args = spec.partition(":")
    if name == "scripted":
        return _scripted(spec, args)
    if name == "llm":
        return _llm(spec, args)
    raise GroundtruthError(f"unknown simulator {name!r}; known: scripted, llm[:MODEL[@BASE_URL]]")


__all__ = ["DriftKnobs", "ScriptedSimulator", "Simulator", "TrackedGoalState", "UserTurn", "VerdictView",
           "make_simulator"]
