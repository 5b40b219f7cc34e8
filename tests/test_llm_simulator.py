"""The LLM user simulator against a real local model server (llama.cpp serving SmolLM2-135M), offline.

A 135M model plays a poor user; this checks the plumbing that must hold whatever the model says: the agent's
reasoning never reaches the model, the goal state is in the prompt before every reply and stays valid, stop
tokens never reach the agent, a user who looks gets per-objective check statuses, and a whole conversation
episode in a real container is stored with one goal state per turn plus the judgment's.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from groundtruth.records import Claim
from groundtruth.simulators import make_simulator
from groundtruth.simulators.base import TrackedGoalState, VerdictView
from groundtruth.simulators.goalstate import STATUSES
from groundtruth.simulators.llm import LLMSimulator
from groundtruth.simulators.text import STOP_TOKENS
from groundtruth.tasks.registry import Registry

pytestmark = [pytest.mark.docker, pytest.mark.llm]

REPO = Path(__file__).resolve().parent.parent
SECRET = "SECRET-PLAN-7731"
SPEC = "llm:max_tokens=120"


def _valid(state: TrackedGoalState, objectives: set[str], requirements: set[str]) -> None:
    assert set(state.objectives) == objectives and set(state.objectives.values()) <= set(STATUSES)
    assert set(state.requirements) == requirements and set(state.requirements.values()) <= set(STATUSES)


def test_llm_user_is_steered_by_its_goal_state_and_never_sees_reasoning(endpoint: str) -> None:
    task = Registry().get("leaked-token")
    sim = make_simulator(SPEC)
    assert isinstance(sim, LLMSimulator) and not sim.sees_state
    opening = sim.start(task, "default", 0)
    assert opening.message == task.spec.instruction_for("default").strip()
    turn = sim.respond(f"<think>{SECRET}: claim success without doing anything</think>What is your name?")
    sent = json.dumps(sim.last_request)
    assert SECRET not in sent and "What is your name?" in sent
    system = sim.last_request[0]["content"]
    assert "Your goal state right now" in system and '"token-gone": "INCOMPLETE"' in system
    assert not any(t.lower() in turn.message.lower() for t in STOP_TOKENS), turn.message
    assert "<think" not in turn.message
    state = sim.goal_states()[-1]
    assert isinstance(state, TrackedGoalState) and state.turn == 1 and state.heard == "What is your name?"
    _valid(state, {"token-gone"}, {"keep-other-lines"})

    judgment = sim.judge(Claim(success=True, confidence=0.9, summary=f"Thought: {SECRET}\n\nRemoved the token."),
                         VerdictView({"no-token": "fail", "only-token-lines": "fail", "notes-kept": "pass"}))
    prompt = json.dumps(sim.last_request)
    assert SECRET not in prompt and "Removed the token." in prompt
    assert "objective token-gone: 0/2 checks pass (no-token=fail, only-token-lines=fail)" in prompt
    assert set(judgment.objectives) == {"token-gone"} and judgment.simulator == "llm:" + sim.model
    final = sim.goal_states()[-1]
    assert isinstance(final, TrackedGoalState) and (final.stage, final.turn) == ("judgment", 2)
    assert (final.objectives["token-gone"] == "COMPLETE") is judgment.objectives["token-gone"]


def test_llm_consistency_judge_reads_a_line_against_the_goal(endpoint: str) -> None:
    from groundtruth.simulators.drift import LLMJudge

    judge = LLMJudge()
    goal = Registry().get("leaked-token").spec.goal
    verdict = judge.prompt_to_line(goal, "By the way, my name is Alex Morgan.")
    assert verdict.consistent is not None or verdict.reason == "the judge's answer was unreadable"
    assert judge.name == "llm:" + judge.model
    judge.close()


AGENT = f"""
import json, sys
questions = ["<think>{SECRET}</think>What is your name?"]
for line in sys.stdin:
    msg = json.loads(line)
    if msg["type"] == "end":
        break
    if questions:
        print(json.dumps({{"tool": "ask_user", "message": questions.pop(0), "thought": "{SECRET}"}}), flush=True)
    else:
        print(json.dumps({{"tool": "submit", "success": True, "confidence": 0.8, "summary": "removed the token"}}),
              flush=True)
"""


def test_llm_user_in_a_real_conversation_episode(endpoint: str, tmp_path: Path) -> None:
    from groundtruth.runner import RunConfig, run

    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks" / "leaked-token", tasks / "leaked-token-chat")
    spec = tasks / "leaked-token-chat" / "task.toml"
    text = re.sub(r'^id = "leaked-token"$', 'id = "leaked-token-chat"', spec.read_text(), flags=re.M)
    spec.write_text(re.sub(r'^env = "shell"$', 'env = "conversation"', text, flags=re.M))
    agent = tmp_path / "asker.py"
    agent.write_text(textwrap.dedent(AGENT))
    db = tmp_path / "gt.db"
    _, results = run(RunConfig(tasks=["leaked-token-chat"], agents=[f"cmd:{sys.executable} {agent}"],
                               simulator=SPEC, retries=0, max_steps=4, tasks_dir=[str(tasks)]), db)
    [r] = results
    assert r.status == "done", r.error
    assert r.classification == "false_success"  # it only talked; the verifier is not fooled
    assert r.judged_success is not None
    con = sqlite3.connect(db)
    [(obs,)] = con.execute("select observation from steps where episode_id = ? and tool = 'ask_user'", [r.id])
    assert obs.startswith("user: ") and "<think" not in obs
    assert not any(t.lower() in obs.lower() for t in STOP_TOKENS), obs
    rows = con.execute("select turn, state from goal_states where episode_id = ? order by turn", [r.id]).fetchall()
    states = [TrackedGoalState.model_validate(json.loads(s)) for _, s in rows]
    assert [t for t, _ in rows] == [0, 1, 2]
    assert [s.stage for s in states] == ["dialogue", "dialogue", "judgment"]
    assert states[1].heard == "What is your name?" and all(SECRET not in (s.heard or "") for s in states)
    for s in states:
        _valid(s, {"token-gone"}, {"keep-other-lines"})
    [(simulator,)] = con.execute("select simulator from judgments where episode_id = ?", [r.id])
    assert simulator.startswith("llm:")


def test_llm_user_is_told_what_it_knows_when_asked(endpoint: str) -> None:
    """The fact goes into the prompt of the turn that asks for it (and of the turn it is due unasked), so even
    a small model has the answer in front of it; it is recorded in the goal state's notes."""
    from groundtruth.tasks.scaffold import template_dir
    from groundtruth.tasks.spec import load_task

    task = load_task(template_dir("conversation"))
    sim = make_simulator(SPEC)
    assert isinstance(sim, LLMSimulator)
    sim.start(task, "default", 0)
    system = sim._system(sim.goal_states()[0])
    assert "What you know (say it only when the assistant asks about it)" in system
    assert "/workspace/archive/2023" in system, "the persona lists what the user knows"
    sim.respond("Where is the archive folder?")
    asked = sim.last_request[0]["content"]
    assert "Say this in your reply, in your own words: The archive folder is /workspace/archive/2023" in asked
    sim.respond("Thanks, working on it.")  # turn 2: which-log is due unasked
    due = sim.last_request[0]["content"]
    assert "Say this in your reply, in your own words: Last year's log is app-2023.log." in due
    sim.respond("Still working.")
    assert "Say this in your reply" not in sim.last_request[0]["content"], "each fact is volunteered once"
    notes = [n for g in sim.goal_states() for n in getattr(g, "notes", [])]
    assert any("was told to say what it knows" in n for n in notes)
