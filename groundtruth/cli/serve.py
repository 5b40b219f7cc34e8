"""`groundtruth serve`: browse a store in Datasette, with the audit's questions ready as canned queries.

Datasette is an optional extra (`pip install 'groundtruth[serve]'`): the audit itself needs no web server, and
Datasette pulls in a sizeable dependency tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from groundtruth.errors import GroundtruthError
from groundtruth.store import Store

INSTALL_HINT = "pip install 'groundtruth[serve]'"

CANNED_QUERIES: dict[str, dict[str, str]] = {
    "false_successes": {
        "title": "False successes",
        "description": "The agent claimed success; the container's final state says the task failed.",
        "sql": """select e.id, e.run_id, e.agent, e.task, e.variant, e.seed, e.confidence, c.summary as claim,
  (select group_concat(k.check_id || ': ' || k.status, '; ') from checks k
     where k.episode_id = e.id and k.status != 'pass') as failing_checks,
  e.judged_success
from episodes e left join claims c on c.episode_id = e.id
where e.classification = 'false_success'
order by e.agent, e.task, e.variant, e.seed""",
    },
    "classification_by_agent": {
        "title": "Classification by agent",
        "description": "How each agent's episodes split into true/false success, honest failure, tampering...",
        "sql": """select agent, classification, count(*) as episodes
from episodes where status in ('done', 'infra_error')
group by agent, classification order by agent, episodes desc""",
    },
    "tampered_episodes": {
        "title": "Tampered episodes with integrity evidence",
        "description": "Protected files, graders or tests the agent changed, with the before/after evidence.",
        "sql": """select e.id, e.agent, e.task, e.variant, e.claimed_success, i.path, i.kind, i.evidence
from episodes e join integrity i on i.episode_id = e.id
where e.tampered = 1
order by e.agent, e.id, i.path""",
    },
    "simulator_false_accepts": {
        "title": "Simulator false accepts",
        "description": "The simulated user accepted the work although it was verified failed or tampered.",
        "sql": """select e.id, e.agent, e.task, e.variant, e.verified, e.tampered, e.claimed_success, e.confidence,
  j.simulator, j.reason
from episodes e join judgments j on j.episode_id = e.id
where e.status = 'done' and j.success = 1 and (e.tampered = 1 or e.verified = 'failure')
order by e.agent, e.id""",
    },
    "episode_steps": {
        "title": "Steps of an episode",
        "description": "The transcript of one episode; episode ids in every table link here.",
        "sql": """select idx, tool, action, observation, exit_code, error, seconds, ts
from steps where episode_id = :episode_id order by idx""",
    },
}


def datasette_name(db: Path) -> str:
    """Datasette names a database after its file stem."""
    return db.stem


def tilde_encode(name: str) -> str:
    """Datasette's URL encoding of database names (so `my.db` links work): unsafe bytes become ~XX."""
    return "".join(ch if re.fullmatch(r"[A-Za-z0-9_-]", ch) else "".join(f"~{b:02X}" for b in ch.encode())
                   for ch in name)


PLUGINS_DIR = Path(__file__).resolve().parent.parent / "serve_plugins"

# Per-table display settings: newest first, the facets a reader filters by, and what each column holds. The
# plugin in PLUGINS_DIR renders times, links episode ids to their transcript and folds bulky values.
TABLES: dict[str, dict[str, Any]] = {
    "episodes": {
        "sort_desc": "started", "size": 50,
        "facets": ["agent", "classification", "task", "run_id"],
        "columns": {
            "id": "run/task/variant/agent/seed; click for the transcript",
            "classification": "true_success, honest_failure, false_success, false_failure, tampered, ...",
            "verified": "outcome read from the container's final state",
            "claimed_success": "what the agent said at submit", "judged_success": "what the simulated user said",
            "verdict": "per-check results (click to open)", "started": "local time", "finished": "local time",
        },
    },
    "steps": {"sort": "idx", "facets": ["tool"], "columns": {"observation": "what the tool returned"}},
    "runs": {"sort_desc": "started", "columns": {"config": "the run's configuration (click to open)"}},
    "checks": {"facets": ["status", "kind", "type"]},
    "attempts": {"sort_desc": "ts", "columns": {"error": "infrastructure failure of one attempt (retried)"}},
}


def metadata(db: Path) -> dict[str, Any]:
    return {
        "title": "groundtruth",
        "description": "Episodes recorded by groundtruth: verified outcome, agent claim and simulator judgment.",
        "databases": {datasette_name(db): {"queries": CANNED_QUERIES, "tables": TABLES}},
    }


def _private_dir() -> Path:
    """A per-user directory in the temp dir, refused if someone else owns it or it is a symlink, so a shared
    /tmp cannot feed Datasette another user's queries."""
    path = Path(tempfile.gettempdir()) / f"groundtruth-serve-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077:
            return path
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="groundtruth-serve-"))


def write_metadata(db: Path) -> Path:
    """Named by content hash: repeated `serve` calls reuse one file instead of leaving a new one each time
    (the process is replaced by Datasette, so nothing would be left to delete it)."""
    text = json.dumps(metadata(db), indent=2, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = _private_dir() / f"metadata-{digest}.json"
    if not path.is_file() or path.read_text() != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def find_datasette() -> str:
    """The one next to this interpreter first (the venv groundtruth runs in), then PATH."""
    local = Path(sys.executable).parent / "datasette"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("datasette")
    if found is None:
        raise GroundtruthError(f"datasette is not installed; install it with: {INSTALL_HINT}")
    return found


def _major_version(exe: str) -> int:
    """Datasette 1.x reads canned queries from a config file (-c); 0.x from metadata (-m)."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    m = re.search(r"version (\d+)", out)
    return int(m.group(1)) if m else 0


def datasette_argv(db: Path, *, host: str, port: int, exe: str | None = None) -> list[str]:
    exe = exe or find_datasette()
    meta = write_metadata(db)
    flag = "--config" if _major_version(exe) >= 1 else "--metadata"
    return [exe, "serve", str(db), flag, str(meta), "--plugins-dir", str(PLUGINS_DIR), "--host", host,
            "--port", str(port), "--setting", "sql_time_limit_ms", "5000"]


def serve_cmd(
    db: Path = typer.Option(..., "--db", help="SQLite database written by `groundtruth run`."),
    port: int = typer.Option(8001, "--port", "-p", min=0, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface; keep loopback unless you mean to share it."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the datasette command instead of running it."),
    as_json: bool = typer.Option(False, "--json", help="With --dry-run: print the command and query URLs as JSON."),
) -> None:
    """Open the database in Datasette with canned audit queries (false successes, tampering, ...)."""
    Store.open_readonly(db).close()  # refuses a missing, non-SQLite or non-groundtruth file before Datasette
    argv = datasette_argv(db.resolve(), host=host, port=port)
    base = f"http://{host}:{port}/{tilde_encode(datasette_name(db))}"
    urls = {name: f"{base}/{name}" for name in CANNED_QUERIES}
    if dry_run:
        if as_json:
            typer.echo(json.dumps({"argv": argv, "queries": urls}, indent=2))
        else:
            typer.echo(" ".join(argv))
        return
    typer.echo(f"serving {db} at {base} (canned queries: {', '.join(CANNED_QUERIES)}); Ctrl-C to stop", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process: signals and Ctrl-C reach Datasette directly and no wrapper outlives it.
    os.execv(argv[0], argv)
