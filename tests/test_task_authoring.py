"""Writing a task without friction: templates, hints, errors that say where and why, the FinalState reference,
the simulated user's knowledge, and (in real containers) validation output, --keep, and `tasks shell`."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from docker.errors import NotFound

from groundtruth.errors import GroundtruthError, TaskSpecError
from groundtruth.simulators import make_simulator
from groundtruth.tasks.registry import ENV_VAR
from groundtruth.tasks.scaffold import scaffold, template_dir, template_names
from groundtruth.tasks.spec import SqliteQuery, load_task

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = ["code", "conversation", "service", "shell", "sqlite"]


def _cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = 900, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "groundtruth", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or REPO, env={**os.environ, **(env or {})}, input=stdin)


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "task.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


# ------------------------------------------------------------------------------------------------------------
# Templates and scaffolding


def test_every_template_is_a_valid_task_with_a_python_check() -> None:
    assert template_names() == TEMPLATES
    for name in TEMPLATES:
        task = load_task(template_dir(name))
        assert task.id == name
        assert any(c.type == "python" for c in task.spec.checks), name
        assert task.spec.protected, name
    assert load_task(template_dir("conversation")).spec.env == "conversation"
    assert load_task(template_dir("conversation")).spec.goal.knowledge


def test_new_copies_a_template_under_the_new_id_and_refuses_bad_ids(tmp_path: Path) -> None:
    folder = scaffold(tmp_path, "gdpr-erase", "privacy", "sqlite")
    task = load_task(folder)
    assert (task.id, task.spec.family) == ("gdpr-erase", "privacy")
    assert (folder / "checks" / "shop.py").is_file()
    res = _cli("tasks", "new", "Bad_Id", "--into", str(tmp_path))
    assert res.returncode == 2 and "task id 'Bad_Id' is not valid" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "Bad_Id").exists(), "nothing may be written for a refused id"
    res = _cli("tasks", "new", "fine-id", "--into", str(tmp_path), "--template", "nope")
    assert res.returncode == 2 and "choose one of: code, conversation, service, shell, sqlite" in res.stderr
    assert not (tmp_path / "fine-id").exists()
    with pytest.raises(GroundtruthError, match="already exists"):
        scaffold(tmp_path, "gdpr-erase")


# ------------------------------------------------------------------------------------------------------------
# Errors that say where and why


def test_sql_null_is_spelled_with_a_sentinel_and_bare_null_gets_a_hint(tmp_path: Path) -> None:
    check = SqliteQuery.model_validate({"id": "q", "type": "sqlite_query", "path": "/x.db", "query": "select 1",
                                        "null": "NULL", "expect": [["a", "NULL"], [1, "b"]]})
    assert check.expect == [["a", None], [1, "b"]]
    plain = SqliteQuery.model_validate({"id": "q", "type": "sqlite_query", "path": "/x.db", "query": "select 1",
                                        "expect": [["NULL"]]})
    assert plain.expect == [["NULL"]], "without `null` the string stays a string"
    folder = scaffold(tmp_path, "nulls", template="sqlite")
    _edit(folder, 'expect = [["deleted", "NULL", "NULL"]]', 'expect = [["deleted", null, null]]')
    with pytest.raises(TaskSpecError, match=r'TOML has no null.*null = "NULL"') as err:
        load_task(folder)
    assert str(folder / "task.toml") in str(err.value)


def test_an_unknown_check_names_the_objective_and_lists_the_defined_checks(tmp_path: Path) -> None:
    folder = scaffold(tmp_path, "typo")
    _edit(folder, 'checks = ["no-token", "only-token-lines"]', 'checks = ["x", "only-token-lines"]')
    with pytest.raises(TaskSpecError) as err:
        load_task(folder)
    msg = str(err.value)
    assert "goal.objectives[0] (id 'token-gone') names check 'x'" in msg
    assert "the checks defined are: no-token, only-token-lines, other-lines-kept" in msg
    # The CLI prints it verbatim: brackets are not eaten as markup.
    res = _cli("tasks", "show", "typo", "--tasks-dir", str(tmp_path))
    assert res.returncode == 2
    assert "goal.objectives[0] (id 'token-gone')" in res.stderr and "[[checks]]" in res.stderr


def test_a_forgotten_tasks_dir_says_how_task_folders_are_found(tmp_path: Path) -> None:
    scaffold(tmp_path / "mytasks", "my-task")
    res = _cli("tasks", "show", "my-task", cwd=tmp_path, env={ENV_VAR: ""})
    assert res.returncode == 2
    assert "--tasks-dir" in res.stderr and ENV_VAR in res.stderr
    assert f"there is one in {tmp_path / 'mytasks'}: add --tasks-dir {tmp_path / 'mytasks'}" in res.stderr
    res = _cli("tasks", "show", "my-task", cwd=tmp_path, env={ENV_VAR: str(tmp_path / "mytasks")})
    assert res.returncode == 0, res.stderr


def test_tasks_list_lists_valid_tasks_and_every_broken_folder(tmp_path: Path) -> None:
    scaffold(tmp_path, "good-one")
    (tmp_path / "broken-one").mkdir()
    (tmp_path / "broken-one" / "task.toml").write_text('id = "broken-one"\n')
    broken_two = scaffold(tmp_path, "broken-two")
    _edit(broken_two, 'checks = ["no-token", "only-token-lines"]', 'checks = ["nope"]')
    res = _cli("tasks", "list", "--tasks-dir", str(tmp_path), env={"COLUMNS": "200"})
    assert res.returncode == 1
    assert "good-one" in res.stdout and "leaked-token" in res.stdout
    broken = res.stdout.split("broken (2)")[1]
    assert "field family: Field required" in broken and "field goal: Field required" in broken
    assert "names check 'nope'" in broken
    rows = json.loads(_cli("tasks", "list", "--tasks-dir", str(tmp_path), "--json").stdout)
    errors = {r["id"]: r["error"] for r in rows}
    assert errors["good-one"] is None and "Field required" in errors["broken-one"]


def test_at_80_columns_ids_stay_whole_and_problems_wrap_on_words() -> None:
    from rich.console import Console

    from groundtruth.cli import tasks as tasks_cli
    from groundtruth.tasks.registry import Registry
    from groundtruth.tasks.validate import Problem, Validation

    res = _cli("tasks", "list", env={"COLUMNS": "80"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    for task_id in Registry().ids():
        assert any(re.search(rf"(^|\s){re.escape(task_id)}(\s|$)", line) for line in lines), task_id

    detail = "goal check no-token is fail for an agent that did nothing: 'tok-123' is still in /workspace/notes.txt"
    result = Validation(task="delete-from-immutable-archive", variant="shifted", ok=False,
                        problems=[Problem(stage="do-nothing", detail=detail)], reference_outcomes=["success"] * 2)
    old = tasks_cli.console
    tasks_cli.console = Console(width=80, record=True, force_terminal=False)
    try:
        tasks_cli._print_validation([result], None)
        text = tasks_cli.console.export_text()
    finally:
        tasks_cli.console = old
    assert "delete-from-immutable-archive" in text and "shifted" in text
    words_per_line = [len(line.split()) for line in text.splitlines() if "tok-123" in line or "nothing" in line]
    assert words_per_line and min(words_per_line) >= 3, text


def test_api_reference_is_generated_from_final_state() -> None:
    from groundtruth.checks.state import FinalState
    from groundtruth.tasks.apidoc import public_methods, reference

    methods, types = reference()
    names = [m.name for m in methods]
    assert names == sorted(n for n, v in vars(FinalState).items()
                           if inspect.isfunction(v) and not n.startswith("_") and n != "close")
    assert names == [n for n, _ in public_methods()]
    undocumented = [m.name for m in methods if m.doc == "(not documented)"]
    assert not undocumented, f"document these FinalState methods (the reference shows their docstrings): {undocumented}"
    by = {m.name: m for m in methods}
    assert by["read_text"].signature == "read_text(path: str) -> str"
    assert "FileNotFoundError" in by["read_bytes"].doc and "missing" in by["read_text"].doc
    assert "[]" in by["listdir"].doc and "missing" in by["stat"].doc
    assert {"FileStat", "ProcessInfo", "TreeEntry"} <= {t.name for t in types}
    res = _cli("tasks", "api")
    assert res.returncode == 0, res.stderr
    assert "return value" in res.stdout and "### `stat(path: str) -> FileStat`" in res.stdout
    assert "could not check" in res.stdout


# ------------------------------------------------------------------------------------------------------------
# The simulated user's knowledge


def test_the_scripted_user_answers_what_it_knows_and_volunteers_on_time() -> None:
    task = load_task(template_dir("conversation"))
    s = make_simulator("scripted")
    s.start(task, "default", 0)
    turn = s.respond("Which archive folder did we agree on?")
    assert "/workspace/archive/2023" in turn.message
    assert "app-2023.log" in turn.message, "'which' also asks which log"
    s.start(task, "default", 0)
    assert s.respond("ok").message == "Please go ahead as I described."
    assert "Last year's log is app-2023.log." in s.respond("working on it").message, "volunteered at turn 2"
    assert s.respond("Should I compress it?").message == task.spec.goal.unknown_answer
    assert any("told what it knows" in n for g in s.goal_states() for n in getattr(g, "notes", []))


# ------------------------------------------------------------------------------------------------------------
# Real containers


def _owner_containers(pid: int) -> list[dict[str, object]]:
    import socket

    from groundtruth.sandbox.engine import LABEL_OWNER, client

    tag = f"{socket.gethostname()}:{pid}"
    return list(client().api.containers(all=True, filters={"label": f"{LABEL_OWNER}={tag}"}))


@pytest.mark.docker
@pytest.mark.timeout(3600)  # five tasks, the red team included: about 20 minutes on a shared 2-core engine
def test_every_template_validates_in_real_containers(tmp_path: Path, sandbox_image: str) -> None:
    from groundtruth.redteam.stage import exploit_names

    for name in TEMPLATES:
        scaffold(tmp_path, f"t-{name}", template=name)
    # grader-detect is left out until the red team stamps `planted_at` inside the exploit's own container: as
    # it stands the "younger container" signal fires in every verification (code-fix-parser's too).
    exploits = ",".join(n for n in exploit_names() if n != "grader-detect")
    res = _cli("tasks", "validate", "t-*", "--tasks-dir", str(tmp_path), "--exploits", exploits, "--json",
               timeout=2400)
    results = json.loads(res.stdout)
    assert [(r["task"], r["ok"], r["problems"], r["warnings"]) for r in results] == [
        (f"t-{n}", True, [], []) for n in TEMPLATES], res.stderr
    assert all(r["redteam"] for r in results), "the red team ran on every template"
    assert res.returncode == 0


@pytest.mark.docker
def test_a_failing_reference_shows_its_output_and_how_to_reproduce_it(tmp_path: Path, sandbox_image: str) -> None:
    from groundtruth.sandbox.engine import LABEL_OWNER, client
    from groundtruth.sandbox.prune import is_stale

    failing = scaffold(tmp_path, "failing")
    (failing / "solution.sh").write_text("#!/bin/bash\necho 'step [1] ok'\necho 'sed: no such file: /nope' >&2\n"
                                         "exit 3\n")
    locked = scaffold(tmp_path, "locked")  # its only protected path is root's: tampering is never tried
    _edit(locked, 'protected = ["/workspace/AUDIT.log"]', 'protected = ["/etc/debian_version"]')
    res = _cli("tasks", "validate", "failing", "locked", "--tasks-dir", str(tmp_path), "--keep", "--no-redteam",
               "--json")
    results = {r["task"]: r for r in json.loads(res.stdout)}
    kept = [k["container"] for r in results.values() for k in r["kept"]]
    try:
        assert res.returncode == 1
        ref = [p["detail"] for p in results["failing"]["problems"] if p["stage"] == "reference #1"]
        assert "solution script exited 3" in ref[0]
        assert "step [1] ok" in ref[0] and "sed: no such file: /nope" in ref[0]
        command = re.search(r"reproduce: (.+)", ref[0])
        assert command is not None
        assert command.group(1).endswith(f"--tasks-dir {tmp_path} --variant default --seed 1 --run solution")
        assert results["locked"]["ok"] and "no protected path is writable" in results["locked"]["warnings"][0]["detail"]
        assert not results["failing"]["warnings"]
        # --keep: every sandbox is still running, with a way in, and a stale sweep leaves it alone.
        assert len(kept) >= 6
        for cid in kept:
            info = client().api.inspect_container(cid)
            labels = info["Config"]["Labels"]
            assert info["State"]["Running"] and labels[LABEL_OWNER].endswith(" (kept)")
            # the validate process has exited: a normal sandbox would now be stale, a kept one is not
            assert not is_stale(labels, info["State"]["Status"])
        # The reproduce command sets up the same world, runs the script, and reads commands from stdin.
        argv = command.group(1).split()[1:]
        again = _cli(*argv, stdin="echo shell-is-open-$GT_SEED\n")
        assert "exited 3" in again.stderr and "sed: no such file: /nope" in again.stderr
        assert "shell-is-open-1" in again.stdout
    finally:
        for cid in kept:
            with contextlib.suppress(NotFound):
                client().api.remove_container(cid, force=True)


@pytest.mark.docker
def test_tasks_shell_on_a_terminal_and_the_sandbox_is_removed(sandbox_image: str) -> None:
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "groundtruth", "tasks", "shell", "leaked-token", "--seed", "5"],
                            stdin=child, stdout=child, stderr=child, cwd=REPO, close_fds=True)
    os.close(child)
    out = b""
    sent = False
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            if not sent and b"exit removes it" in out:
                time.sleep(1.0)  # let bash print its prompt
                os.write(main, b"id -un; echo answer-$((40+2)); ls /workspace/backup; exit\n")
                sent = True
            if proc.poll() is not None and not ready:
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    text = out.decode(errors="replace")
    assert sent, text
    assert "answer-42" in text and "notes-5.txt" in text and "agent" in text, text
    assert proc.returncode == 0, text
    assert _owner_containers(proc.pid) == [], "the shell's sandbox must be removed on exit"


@pytest.mark.docker
def test_tasks_shell_as_root_from_a_pipe(sandbox_image: str) -> None:
    res = _cli("tasks", "shell", "leaked-token", "--root", "--verify", stdin="id -un\nexit 0\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "root"
    assert "verified: failure" in res.stdout and "no-token" in res.stdout


@pytest.mark.docker
def test_setup_files_never_hand_a_directory_to_the_agent_unasked(tmp_path: Path, sandbox_image: str) -> None:
    from groundtruth.tasks.world import World

    folder = scaffold(tmp_path, "ssh-keys")
    _edit(folder, '[[setup.files]]\npath = "/workspace/notes.txt"',
          '[[setup.files]]\npath = "/etc/ssh-demo/keys/authorized_keys"\ncontent = "k"\nowner = "agent"\n\n'
          '[[setup.files]]\npath = "/srv/given/sub/file"\ncontent = "k"\nowner = "agent"\ndir_owner = "agent"\n\n'
          '[[setup.files]]\npath = "/workspace/proj/src/a.py"\ncontent = ""\nowner = "agent"\n\n'
          '[[setup.files]]\npath = "/workspace/notes.txt"')
    task = load_task(folder)
    with World(task, run_id="pytest-ownership") as w:
        assert w.sandbox is not None
        res = w.sandbox.exec("stat -c '%U %n' /etc/ssh-demo /etc/ssh-demo/keys /etc/ssh-demo/keys/authorized_keys "
                             "/srv/given /srv/given/sub /workspace/proj /workspace/proj/src", user="root")
    owners = dict(reversed(line.split(" ", 1)) for line in res.stdout.splitlines())
    assert owners == {
        "/etc/ssh-demo": "root", "/etc/ssh-demo/keys": "root", "/etc/ssh-demo/keys/authorized_keys": "agent",
        "/srv/given": "agent", "/srv/given/sub": "agent",
        "/workspace/proj": "agent", "/workspace/proj/src": "agent",  # the agent owns /workspace: it could make them
    }, res.stdout
