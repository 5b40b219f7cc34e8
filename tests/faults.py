"""Fault-injection helpers for the real engine: a proxy that makes the engine refuse to create containers, a
container killer that strikes at a chosen moment, and external agents that misbehave on purpose."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from groundtruth.sandbox.engine import LABEL_KIND, LABEL_MANAGED, LABEL_RUN, client

REFUSAL = json.dumps({"message": "fault injection: the engine refuses to create containers"}).encode()


class RefusingEngine:
    """A unix socket in front of the real engine. The first `refuse` container-create requests (every one
    when `refuse` is None) get the engine's own error shape, HTTP 500; every other byte passes through, so
    pings, exec streams and removals work as they do against the engine itself."""

    def __init__(self, path: Path, refuse: int | None, upstream: str = "/var/run/docker.sock", *,
                 drop: bool = False) -> None:
        self.drop = drop  # hang up without an answer instead (what an overloaded engine did once in CI)
        self.path = path
        self.left = refuse
        self.refused = 0
        self.upstream = upstream
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(64)
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self._server.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(self.upstream)
            threading.Thread(target=self._pump, args=(conn, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, conn, False), daemon=True).start()

    def _refuses(self, chunk: bytes) -> bool:
        first = chunk.split(b"\r\n", 1)[0]
        if not (first.startswith(b"POST ") and b"/containers/create" in first):
            return False
        with self._lock:
            if self.left is not None and self.left <= 0:
                return False
            if self.left is not None:
                self.left -= 1
            self.refused += 1
            return True

    def _pump(self, src: socket.socket, dst: socket.socket, inspect: bool) -> None:
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    return
                if inspect and self._refuses(chunk):
                    if self.drop:
                        for s in (src, dst):
                            with contextlib.suppress(OSError):
                                s.close()
                        return
                    src.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                b"Content-Length: " + str(len(REFUSAL)).encode() + b"\r\nConnection: close\r\n\r\n"
                                + REFUSAL)
                    for s in (src, dst):
                        with contextlib.suppress(OSError):
                            s.close()
                    return
                dst.sendall(chunk)
        except OSError:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()


class Killer:
    """Kills the first container of a run in which a process whose command line contains `marker` runs:
    a container dying at one chosen phase of an episode, once."""

    def __init__(self, run_id: str, marker: str, kind: str = "sandbox") -> None:
        self.run_id = run_id
        self.marker = marker
        self.kind = kind
        self.killed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        api = client().api
        while not self._stop.is_set() and not self.killed:
            for c in api.containers(filters={"label": [f"{LABEL_RUN}={self.run_id}", f"{LABEL_KIND}={self.kind}"]}):
                try:
                    procs = api.top(c["Id"]).get("Processes") or []
                except Exception:  # the container is going away by itself
                    continue
                if any(self.marker in " ".join(map(str, p)) for p in procs):
                    with contextlib.suppress(Exception):
                        api.kill(c["Id"])
                    self.killed.append(str(c["Id"]))
                    return
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def leftovers(run_id: str) -> dict[str, int]:
    """Containers, scratch volumes and snapshot images a run left in the engine."""
    api = client().api
    label = f"{LABEL_RUN}={run_id}"
    vols = (api.volumes(filters={"label": label}) or {}).get("Volumes") or []
    return {
        "containers": len(api.containers(all=True, filters={"label": label})),
        "volumes": len(vols),
        "images": len(api.images(filters={"label": [f"{LABEL_MANAGED}=1", label]})),
    }


PLAN_AGENT = Path(__file__).resolve().parents[1] / "benchmarks" / "agents" / "plan_agent.py"


def scripted_agent(folder: Path, plan: list[dict[str, Any]], name: str = "agent") -> str:
    """A real external agent process (JSON lines) that follows `plan`; returns its `--agent` spec."""
    plan_file = folder / f"{name}.json"
    plan_file.write_text(json.dumps(plan))
    return f"cmd:{sys.executable} {PLAN_AGENT} {plan_file}"


def process_state(pid: int) -> str | None:
    """'R', 'S', 'Z', ... or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", **extra}
