"""A real Ray cluster on loopback for tests and benchmarks: nodes are `ray start --block` processes in their own
process groups, with their own ports and temp dir, so stopping one kills exactly its processes (never
`ray stop`, which stops every Ray process on the machine, other users' included)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
# A loopback test cluster: no token (Ray >= 2.5x turns token authentication on for `ray start --head`; every
# process that talks to the cluster, drivers included, gets the same setting from this environment).
ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
WAIT_NODES = """
import json, sys, time, ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
want = int(sys.argv[2]); deadline = time.time() + float(sys.argv[3])
while True:
    alive = [n for n in ray.nodes() if n["Alive"]]
    if len(alive) >= want or time.time() > deadline:
        break
    time.sleep(0.5)
print(json.dumps({str(n["NodeManagerPort"]): n["NodeID"] for n in alive}))
"""


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(children.get(p, []))
    return out


class Node:
    def __init__(self, proc: subprocess.Popen[bytes], manager_port: int, log: Path) -> None:
        self.proc = proc
        self.manager_port = manager_port
        self.log = log
        self.node_id = ""

    def pids(self) -> set[int]:
        return descendants(self.proc.pid)

    def kill(self) -> None:
        """SIGKILL to the node's whole process tree: what a machine losing power looks like to the others."""
        pids = self.pids()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


class Cluster:
    """A head and any number of extra nodes, each with `docker_engine` slots and few resources."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="gtray-", dir="/tmp"))  # short: Ray's unix sockets live here
        self.gcs_port = free_ports(1)[0]
        self.address = f"127.0.0.1:{self.gcs_port}"
        self.nodes: list[Node] = []

    def _start(self, head: bool, engines: int) -> Node:
        ports = free_ports(6)
        args = [RAY, "start", "--block", "--disable-usage-stats", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                "--object-store-memory=80000000", f"--resources={json.dumps({'docker_engine': engines})}",
                f"--node-manager-port={ports[0]}", f"--object-manager-port={ports[1]}",
                f"--runtime-env-agent-port={ports[2]}", f"--dashboard-agent-grpc-port={ports[3]}",
                f"--dashboard-agent-listen-port={ports[4]}", f"--metrics-export-port={ports[5]}"]
        lo = random.randrange(30000, 50000)  # workers take ports from this range, one each
        args += [f"--min-worker-port={lo}", f"--max-worker-port={lo + 40}"]
        if head:
            args += ["--head", f"--port={self.gcs_port}", f"--temp-dir={self.tmp}", "--include-dashboard=false"]
        else:
            args += [f"--address={self.address}"]
        log = self.tmp / f"node-{len(self.nodes)}.log"
        env = {**os.environ, **ENV}
        with log.open("wb") as fh:
            proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        node = Node(proc, ports[0], log)
        self.nodes.append(node)
        return node

    def start(self, engines: list[int], timeout: float = 120) -> None:
        head = self._start(True, engines[0])
        deadline = time.time() + timeout
        while time.time() < deadline:
            if head.proc.poll() is not None:
                raise RuntimeError("the Ray head did not start:\n" + head.log.read_text()[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.gcs_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        for n in engines[1:]:
            self._start(False, n)
        ids = self.wait_nodes(len(engines), timeout)
        for node in self.nodes:
            node.node_id = ids.get(str(node.manager_port), "")
        missing = [n.log.read_text()[-2000:] for n in self.nodes if not n.node_id]
        if missing:
            raise RuntimeError("Ray nodes did not come up:\n" + "\n---\n".join(missing))

    def wait_nodes(self, n: int, timeout: float) -> dict[str, str]:
        out = subprocess.run([sys.executable, "-c", WAIT_NODES, self.address, str(n), str(timeout)],
                             capture_output=True, text=True, timeout=timeout + 60, env={**os.environ, **ENV})
        if out.returncode != 0:
            raise RuntimeError(f"cannot list the Ray nodes at {self.address}:\n{out.stderr[-3000:]}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.proc.poll() is None:
                node.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
