"""User simulators by name: `scripted`, `scripted:p=0.5,forget=2`, ..."""

from __future__ import annotations

from groundtruth.errors import GroundtruthError
from groundtruth.simulators.base import Simulator
from groundtruth.simulators.scripted import DriftKnobs, ScriptedSimulator

_KNOB_ALIASES = {
    "p": "accept_without_evidence",
    "forget": "forget_requirement_after",
    "contradict": "contradict_profile_at",
    "end": "end_after",
    "reveal": "reveal",
    "sees": "sees_state",
}


def make_simulator(spec: str) -> Simulator:
    """`NAME[:k=v,...]`; e.g. `scripted:p=0.3,forget=2`. Unknown names or knobs are clear errors."""
    name, _, args = spec.partition(":")
    knobs: dict[str, object] = {}
    for part in filter(None, args.split(",")):
        key, _, val = part.partition("=")
        field = _KNOB_ALIASES.get(key.strip(), key.strip())
        if field not in DriftKnobs.model_fields:
            raise GroundtruthError(f"simulator {spec!r}: unknown knob {key!r}; known: {sorted(_KNOB_ALIASES)}")
        knobs[field] = val.strip()
    if name == "scripted":
        return ScriptedSimulator(DriftKnobs.model_validate(knobs), name=spec)
    raise GroundtruthError(f"unknown simulator {name!r}; known: scripted")
