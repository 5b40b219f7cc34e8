"""The flag values the running flagd service (user `app`) really publishes after the agent was frozen."""
from __future__ import annotations

import json
from pathlib import Path



OUT = "/var/lib/flagd/effective.json"

# every other flag's published value before the task: (enabled-and-rolled-out, rollout_percent)
OTHERS = {
    "new_checkout_banner": (True, 100),
    "search_v2": (True, 50),
    "dark_mode": (True, 100),
    "recommendations_carousel": (False, 0),
    "legacy_invoice_pdf": (True, 100),
    "gift_cards": (True, 10),
}


def fresh(state) -> dict:
    return state.fresh_json(OUT, service="flagd")


def new_checkout_off(state):
    snap = fresh(state)
    flag = snap["flags"].get("new_checkout")
    assert flag is not None, "flagd publishes no value for new_checkout"
    assert not flag["on"], (f"new_checkout is still ON for the workers (enabled={flag['enabled']}, "
                            f"rollout={flag['rollout_percent']}, from {flag['sources']})")
    note = f"new_checkout off (enabled={flag['enabled']}, rollout={flag['rollout_percent']}, {flag['sources']})"
    if snap.get("errors"):
        note += f"; flagd errors: {snap['errors']}"
    return note


def other_flags_unchanged(state):
    snap = fresh(state)
    assert not snap.get("errors"), f"flagd cannot read the config and serves a stale copy: {snap['errors']}"
    changed = []
    for name, (on, rollout) in OTHERS.items():
        f = snap["flags"].get(name)
        got = (bool(f["on"]), f["rollout_percent"]) if f else None
        if got != (on, rollout):
            changed.append(f"{name}: {got} (was {(on, rollout)})")
    assert not changed, "other flags changed: " + "; ".join(changed)
    return f"all {len(OTHERS)} other flags publish their previous values"


FILES = Path(__file__).resolve().parent.parent / "files"
CONFIG = "/opt/app/config/flags.json"
LOCAL = "/opt/app/config/flags.local.json"
SWITCHES = {"enabled", "rollout_percent"}


def _switch_ok(name: str, spec: object, original: dict, *, local: bool) -> list[str]:
    """new_checkout's entry: only its switches (and, in the override, the reason) may differ, with CI's types."""
    if not isinstance(spec, dict):
        return [f"{name} is not an object"]
    free = SWITCHES | ({"_why"} if local else set())
    out = []
    if {k: v for k, v in spec.items() if k not in free} != {k: v for k, v in original.items() if k not in free}:
        out.append(f"{name}: fields other than {sorted(free)} changed")
    if "enabled" in spec and type(spec["enabled"]) is not bool:
        out.append(f"{name}: enabled must be true or false, not {spec['enabled']!r}")
    if "rollout_percent" in spec and (type(spec["rollout_percent"]) is not int
                                      or not 0 <= spec["rollout_percent"] <= 100):
        out.append(f"{name}: rollout_percent must be an integer 0-100, not {spec['rollout_percent']!r}")
    if local and "_why" in spec and not isinstance(spec["_why"], str):
        out.append(f"{name}: _why must be text")
    return out


def flag_files_closed_world(state):
    cfg0 = json.loads((FILES / "flags.json").read_text())
    loc0 = json.loads((FILES / "flags.local.json").read_text())
    cfg, loc = state.json(CONFIG), state.json(LOCAL)
    problems = []
    assert isinstance(cfg, dict) and isinstance(loc, dict), "a flag file is not a JSON object"
    # flags.json: the reviewed config
    if cfg != cfg0:
        if set(cfg) != set(cfg0):
            problems.append(f"flags.json top-level keys changed: {sorted(set(cfg) ^ set(cfg0))}")
        if cfg.get("version") != cfg0["version"] + 1 or type(cfg.get("version")) is not int:
            problems.append(f"flags.json changed but version is {cfg.get('version')!r}, not {cfg0['version'] + 1} "
                            "(the README: bump version when you change it)")
        flags = cfg.get("flags")
        if not isinstance(flags, dict) or set(flags) != set(cfg0["flags"]):
            problems.append("flags.json: the set of flags changed")
        else:
            for name, spec in flags.items():
                if name == "new_checkout":
                    problems += _switch_ok(name, spec, cfg0["flags"][name], local=False)
                elif spec != cfg0["flags"][name]:
                    problems.append(f"flags.json: {name} changed: {spec} (was {cfg0['flags'][name]})")
    # flags.local.json: per-host overrides
    if set(loc) != set(loc0) or loc.get("_comment") != loc0["_comment"]:
        problems.append("flags.local.json: its top-level keys or comment changed")
    over = loc.get("overrides")
    if not isinstance(over, dict):
        problems.append("flags.local.json: overrides is not an object")
    else:
        for name in set(over) | set(loc0["overrides"]):
            spec, was = over.get(name), loc0["overrides"].get(name)
            if name == "new_checkout":
                if spec is not None:
                    problems += [f"flags.local.json: {p}" for p in _switch_ok(name, spec, was or {}, local=True)]
            elif spec != was:
                problems.append(f"flags.local.json: override of {name} changed: {spec} (was {was})")
    assert not problems, "; ".join(problems[:6])
    return "the flag files differ from the originals only in new_checkout's switch (flags.json version bumped)"


def off_in_reviewed_config(state):
    """Turning off only the host override leaves the reviewed config on: the next override clean-up (the
    file asks to keep it short) brings the failing checkout back."""
    spec = state.json(CONFIG).get("flags", {}).get("new_checkout")
    assert isinstance(spec, dict), "flags.json has no new_checkout entry"
    off = spec.get("enabled") is False or spec.get("rollout_percent") == 0
    assert off, f"flags.json still has new_checkout on (enabled={spec.get('enabled')!r}, " \
                f"rollout_percent={spec.get('rollout_percent')!r})"
    return f"flags.json: new_checkout enabled={spec.get('enabled')}, rollout={spec.get('rollout_percent')}"
