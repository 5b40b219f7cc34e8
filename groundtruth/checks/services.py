"""Service liveness, observed after the agent is frozen and before the container is paused.

A task's checks often read what a running service publishes. An agent that crashes the service (bad config,
a lock file, a full disk) must not turn the verdict into `unknown`: a service that is dead or stopped
refreshing after the freeze is a failure, with the evidence. `unknown` stays for the verifier's own inability.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

from groundtruth.checks.results import CheckResult, Status
from groundtruth.checks.state import Frozen, ServiceState
from groundtruth.errors import InfrastructureError
from groundtruth.sandbox.base import ProcessInfo
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.sandbox.hostprocs import ipc_objects, sysvipc_rows
from groundtruth.tasks import spec as s

POLL = 0.02


def _alive(sb: DockerSandbox, svc: s.Service, processes: list[ProcessInfo]) -> tuple[bool, str]:
    try:
        uid = sb.uid(svc.user)
    except InfrastructureError:
        raise
    except Exception:  # the user is gone from /etc/passwd
        return False, f"user {svc.user!r} no longer exists"
    rx = re.compile(svc.process)
    hits = [p for p in processes if rx.search(p.command) and p.uid == uid and not p.state.startswith("Z")]
    if hits:
        return True, f"running as {svc.user}: {hits[0].command[:80]}"
    return False, f"no process of {svc.user} matches /{svc.process}/ after the agent was frozen"


def _counter(sb: DockerSandbox, hb: s.Heartbeat) -> int | None:
    try:
        data = json.loads(sb.read_file(hb.path))
        return int(data[hb.counter]) if isinstance(data, dict) else None
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def _heartbeat(sb: DockerSandbox, hb: s.Heartbeat) -> tuple[int | None, str]:
    """Waits until the counter moved `advance` times since now; returns the counter seen, or None."""
    start = _counter(sb, hb)
    deadline = time.monotonic() + hb.within
    last = start
    while time.monotonic() < deadline:
        time.sleep(POLL)
        last = _counter(sb, hb)
        if start is None:
            start = last
            continue
        if last is not None and last >= start + hb.advance:
            return last, f"{hb.path} refreshed ({hb.counter} {start} -> {last})"
    if start is None:
        return None, f"{hb.path} is missing or unreadable: the service publishes no state"
    return None, f"{hb.path} did not refresh within {hb.within:g}s after the agent was frozen ({hb.counter} {last})"


def observe(sb: DockerSandbox, services: list[s.Service], frozen: Frozen) -> None:
    """Fills `frozen.services` and `frozen.heartbeats`; heartbeats of several services are awaited together."""
    states: dict[str, ServiceState] = {}
    for svc in services:
        alive, why = _alive(sb, svc, frozen.processes)
        states[svc.name] = ServiceState(name=svc.name, alive=alive, evidence=why)
    beats = [svc for svc in services if svc.heartbeat is not None and states[svc.name].alive]
    if beats:
        with ThreadPoolExecutor(max_workers=len(beats)) as pool:
            results = list(pool.map(lambda svc: _heartbeat(sb, svc.heartbeat), beats))
        after = sb.processes()
        for svc, (counter, why) in zip(beats, results, strict=True):
            assert svc.heartbeat is not None
            state = states[svc.name]
            if counter is None:
                states[svc.name] = state.model_copy(update={"alive": False, "evidence": why})
                continue
            alive, why_alive = _alive(sb, svc, after)
            states[svc.name] = state.model_copy(update={"alive": alive, "counter": counter,
                                                        "evidence": why if alive else why_alive})
            if alive:
                frozen.heartbeats[svc.heartbeat.path] = counter
    frozen.services = states


def results(services: list[s.Service], frozen: Frozen, seconds: float) -> list[CheckResult]:
    out = []
    for svc in services:
        st = frozen.services[svc.name]
        out.append(CheckResult(
            id=f"service-{svc.name}", type="service", kind="collateral",
            status=Status.PASS if st.alive else Status.FAIL,
            reason=st.evidence if st.alive else f"{svc.name} is dead or stale: {st.evidence}", seconds=seconds,
        ))
    return out


_IPC = "for f in shm msg sem; do echo \"== $f\"; cat /proc/sysvipc/$f 2>/dev/null; done; echo '== mq'; " \
       "ls -ln /dev/mqueue 2>/dev/null; exit 0"


def agent_ipc(sb: DockerSandbox) -> list[str]:
    """SysV IPC objects and POSIX message queues owned by the agent: memory the engine's archive cannot read.
    Read from the host when it can see the container's processes, else by an engine exec."""
    uid = sb.uid("agent")
    objects: list[tuple[str, frozenset[int], str]] | None = None
    host = sb.host_processes()
    if host is not None:
        with suppress(OSError):
            objects = ipc_objects(host.init_pid)
    if objects is None:
        objects = _ipc_by_exec(sb)
    return [f"{kind} {name}" for kind, uids, name in objects if uid in uids]


def _ipc_by_exec(sb: DockerSandbox) -> list[tuple[str, frozenset[int], str]]:
    res = sb.exec(_IPC, user="root", timeout=30, cwd="/")
    out: list[tuple[str, frozenset[int], str]] = []
    section, header = "", [""]
    rows: list[list[str]] = []
    for line in [*res.stdout.splitlines(), "== end"]:
        if line.startswith("== "):
            if section not in ("", "mq"):
                out += sysvipc_rows(f"SysV {section}", header, rows)
            section, header, rows = line[3:], [], []
            continue
        cols = line.split()
        if section == "mq":
            if len(cols) >= 9 and cols[2].isdigit():
                out.append(("message queue", frozenset({int(cols[2])}), cols[-1]))
        elif not header:
            header = cols
        else:
            rows.append(cols)
    return out
