"""A Harbor `environment/Dockerfile` as a groundtruth task recipe: which steps are baked in as they are, which
become `[image] packages`, and which cannot run here (and why). Nothing is dropped without a note."""

from __future__ import annotations

import io
import re
import shlex

from dockerfile_parse import DockerfileParser
from pydantic import BaseModel, Field

from groundtruth.harbor.model import Note

KEEP = ("COPY", "ADD", "WORKDIR", "ENV", "ARG", "LABEL", "SHELL")
WHY_NOT = {
    "USER": "the agent's user is groundtruth's `agent` (or root with agent_user = \"root\"), set by the sandbox",
    "CMD": "the sandbox's main process is its self-destruct timer; start services with a setup command",
    "ENTRYPOINT": "the sandbox's main process is its self-destruct timer; start services with a setup command",
    "EXPOSE": "sandboxes have no network",
    "VOLUME": "sandboxes have no volumes or host mounts",
    "HEALTHCHECK": "declare a [[services]] heartbeat instead",
    "STOPSIGNAL": "the sandbox is removed, not stopped",
    "ONBUILD": "no image is built from the task's image",
}
_APT_NOISE = re.compile(r"^(apt-get|apt)\s+(update|clean|autoclean|autoremove)\b|^rm\s+-r?f?r?\s+/var/lib/apt/lists"
                        r"|^rm\s+-rf\s+/var/cache/apt|^export\s+DEBIAN_FRONTEND=|^true$|^:$")
_APT_INSTALL = re.compile(r"^(?:DEBIAN_FRONTEND=\S+\s+)?(apt-get|apt)\s+(?:\S+\s+)*?install\b(.*)$")
_NETWORK = re.compile(r"\b(pip3?|uv|uvx|curl|wget|git\s+clone|npm|yarn|cargo|go\s+(?:get|install)|conda|gem|"
                      r"add-apt-repository)\b")


class Translation(BaseModel):
    steps: list[str] = Field(default_factory=list, description="Dockerfile lines for the task recipe")
    packages: list[str] = Field(default_factory=list)
    workdir: str | None = None
    original_from: str = ""
    notes: list[Note] = Field(default_factory=list)


def _commands(run: str) -> list[str]:
    """The shell commands of a RUN, split at `&&` and `;` outside quotes."""
    out: list[str] = []
    cur, quote, i = "", "", 0
    while i < len(run):
        ch = run[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif run.startswith("&&", i) or ch == ";":
            out.append(cur)
            cur, i = "", i + (2 if ch == "&" else 1)
            continue
        cur += ch
        i += 1
    return [c.strip() for c in [*out, cur] if c.strip()]


def translate(text: str, where: str = "environment/Dockerfile") -> Translation:
    out = Translation()
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))

    def note(line: int, what: str, status: str, reason: str = "") -> None:
        out.notes.append(Note(source=f"{where}:{line}", what=what.strip()[:160], status=status,
                              reason=reason))

    for item in parser.structure:
        ins, value, line = item["instruction"], item["value"], item["startline"] + 1
        content = item["content"].rstrip("\n")
        if ins == "COMMENT":
            continue
        if ins == "FROM":
            if out.original_from:
                note(line, content, "not translated", "multi-stage builds are not supported; flatten to one stage")
                out.steps.append(f"# not translated (multi-stage): {content}\n")
                continue
            out.original_from = value
            out.steps.append(f"FROM {value}\n")
            note(line, content, "changed", "built FROM groundtruth's Debian bookworm sandbox (python3, pytest) "
                                           "instead: no registry is needed")
        elif ins == "RUN":
            kept: list[str] = []
            for cmd in _commands(value):
                m = _APT_INSTALL.match(cmd)
                if m:
                    names = [t for t in shlex.split(m.group(2)) if not t.startswith("-")]
                    for n in names:
                        base = n.split("=")[0]
                        if base != n:
                            note(line, n, "changed", f"version pin dropped: {base} comes from the base's Debian "
                                                     "suite, resolved together with the base's packages")
                        if base not in out.packages:
                            out.packages.append(base)
                    note(line, cmd, "translated", f"[image] packages += {names}")
                elif _APT_NOISE.match(cmd):
                    note(line, cmd, "translated", "apt bookkeeping, not needed when packages are bootstrapped")
                elif _NETWORK.search(cmd):
                    note(line, cmd, "not translated", "needs the network, which image builds do not have; install "
                                                      "Debian packages through [image] packages or COPY the files")
                    out.steps.append(f"# not translated (needs the network): RUN {cmd}\n")
                else:
                    kept.append(cmd)
            if kept and len(kept) == len(_commands(value)):
                out.steps.append(item["content"] if item["content"].endswith("\n") else item["content"] + "\n")
                note(line, content, "translated", "baked into the task image at build time")
            elif kept:
                out.steps.append("RUN " + " \\\n && ".join(kept) + "\n")
                note(line, "RUN " + " && ".join(kept), "translated", "baked into the task image at build time")
        elif ins in KEEP:
            if ins in ("COPY", "ADD") and ("--from" in value or "://" in value):
                note(line, content, "not translated", "needs another image or the network")
                out.steps.append(f"# not translated: {content}\n")
                continue
            if ins == "WORKDIR":
                out.workdir = value.strip()
            out.steps.append(item["content"] if item["content"].endswith("\n") else item["content"] + "\n")
            note(line, content, "translated", "baked into the task image at build time")
        else:
            note(line, content, "not translated", WHY_NOT.get(ins, f"{ins} has no groundtruth equivalent"))
            out.steps.append(f"# not translated: {content}\n")
    if not out.original_from:
        out.notes.append(Note(source=where, what="FROM", status="not translated", reason="the Dockerfile has no FROM"))
    return out
