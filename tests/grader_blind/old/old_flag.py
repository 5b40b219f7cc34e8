# The check code of this task before the closed-world rework, kept verbatim.
# ruff: noqa: I001
"""The flag values the running flagd service (user `app`) really publishes after the agent was frozen."""
from __future__ import annotations



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
