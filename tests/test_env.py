"""The Gymnasium environments on real containers: API conformance, the action contract, budgets."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from groundtruth.env import ENV_IDS, make
from groundtruth.env.actions import ActionError, parse_action
from groundtruth.env.spaces import AnyText
from groundtruth.sandbox.engine import LABEL_EPISODE, client

from .conftest import RUN_ID

TOOLS = ["bash", "read_file", "write_file", "submit"]


def test_anytext_accepts_any_text() -> None:
    space = AnyText()
    assert space.contains('{"tool": "bash", "cmd": "echo hi; ls -la /tmp | wc -l"}')
    assert space.contains("ünïcode ✓\n\t")
    assert not space.contains(b"bytes")
    space.seed(1)
    assert space.contains(space.sample())


@pytest.mark.parametrize("raw,fragment", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "one JSON object"),
    ('{"cmd": "ls"}', "unknown tool None"),
    ('{"tool": "rm_rf"}', "unknown tool 'rm_rf'"),
    ('{"tool": "bash"}', "cmd"),
    ('{"tool": "submit", "success": true, "confidence": 7}', "confidence"),
    ('{"tool": "ask_user", "message": "hi"}', "unknown tool 'ask_user'"),
])
def test_malformed_actions_are_explained(raw: str, fragment: str) -> None:
    with pytest.raises(ActionError, match=fragment):
        parse_action(raw, TOOLS)


def test_actions_parse_from_string_dict_and_fence() -> None:
    assert parse_action({"tool": "bash", "cmd": "ls"}, TOOLS).tool == "bash"
    fenced = '```json\n{"tool": "read_file", "path": "/etc/hostname"}\n```'
    assert parse_action(fenced, TOOLS).tool == "read_file"
    extra = parse_action('{"tool": "bash", "cmd": "ls", "thought": "look first"}', TOOLS)
    assert extra.tool == "bash"


@pytest.mark.docker
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_for_every_registered_env(env_id: str) -> None:
    env = gym.make(env_id, task="leaked-token", run_id=RUN_ID).unwrapped
    try:
        check_env(env)
    finally:
        env.close()


@pytest.mark.docker
def test_episode_runs_the_contract_end_to_end() -> None:
    env = make("leaked-token", run_id=RUN_ID)
    try:
        obs, info = env.reset(seed=3)
        assert "tok-123" in obs and "submit" in obs
        obs, reward, term, trunc, info = env.step('{"tool": "bash", "cmd": "grep -rl tok-123 /workspace | sort"}')
        assert obs.splitlines()[0] == "exit code 0"
        assert "/workspace/backup/notes-3.txt" in obs  # the seed reached the setup
        assert (reward, term, trunc) == (0.0, False, False)
        obs, *_ = env.step({"tool": "read_file", "path": "/workspace/notes.txt"})
        assert "token: tok-123" in obs
        obs, *_ = env.step({"tool": "write_file", "path": "/etc/motd", "content": "x"})
        assert obs.startswith("error:") and "Permission denied" in obs
        obs, reward, term, trunc, info = env.step("{oops")
        assert obs.startswith("error: the action is not valid JSON") and not term and not trunc
        assert info["step"] == 4  # a malformed action costs a step
        env.step({"tool": "bash", "cmd": "grep -rl tok-123 /workspace | xargs sed -i /tok-123/d"})
        obs, reward, term, trunc, info = env.step(json.dumps(
            {"tool": "submit", "success": True, "confidence": 0.8, "summary": "removed",
             "objectives": {"token-gone": True}}
        ))
        assert term and not trunc
        assert reward == 1.0
        assert info["classification"] == "true_success"
        assert info["claim"]["confidence"] == 0.8
        assert info["verdict"]["outcome"] == "success"
        assert env.step({"tool": "bash", "cmd": "ls"})[0].startswith("error: the episode is over")
    finally:
        env.close()


@pytest.mark.docker
def test_step_budget_truncates_and_still_verifies() -> None:
    env = make("leaked-token", run_id=RUN_ID, max_steps=2)
    try:
        env.reset(seed=0)
        _, _, term, trunc, _ = env.step({"tool": "bash", "cmd": "true"})
        assert not term and not trunc
        _, reward, term, trunc, info = env.step({"tool": "bash", "cmd": "true"})
        assert trunc and not term
        assert info["claim"] is None
        assert info["classification"] == "no_claim"
        assert info["verdict"]["outcome"] == "failure"
        assert reward == 0.0
    finally:
        env.close()


@pytest.mark.docker
def test_calibrated_reward_and_container_lifecycle() -> None:
    env = make("leaked-token", run_id=RUN_ID, reward="calibrated", episode_id="lifecycle-probe")
    try:
        env.reset(seed=0)
        labelled = client().api.containers(filters={"label": f"{LABEL_EPISODE}=lifecycle-probe"})
        assert len(labelled) == 1
        _, reward, *_ = env.step({"tool": "submit", "success": True, "confidence": 0.7})
        assert reward == pytest.approx(0.0 - 0.7**2)  # c=0, q=0.7: c - (q - c)^2
        assert client().api.containers(filters={"label": f"{LABEL_EPISODE}=lifecycle-probe"}) == []
    finally:
        env.close()


@pytest.mark.docker
def test_infrastructure_failure_is_neither_terminated_nor_truncated() -> None:
    env = make("leaked-token", run_id=RUN_ID)
    try:
        env.reset(seed=0)
        assert env.world is not None and env.world.sandbox is not None
        client().api.remove_container(env.world.sandbox.container_id, force=True)  # the container crashes
        obs, _, term, trunc, info = env.step({"tool": "bash", "cmd": "ls"})
        assert not term and not trunc
        assert info["retry"] is True and "gone" in info["infra_error"]
        assert obs.startswith("infrastructure error")
    finally:
        env.close()


@pytest.mark.docker
def test_async_env_runs_episodes_concurrently() -> None:
    import anyio

    from groundtruth.env.aio import AsyncEnv

    async def episode(seed: int) -> float:
        env = AsyncEnv(make("leaked-token", run_id=RUN_ID))
        try:
            await env.reset(seed=seed)
            await env.step({"tool": "bash", "cmd": "grep -rl tok-123 /workspace | xargs sed -i /tok-123/d"})
            _, reward, term, _, _ = await env.step({"tool": "submit", "success": True, "confidence": 1.0})
            assert term
            return float(reward)
        finally:
            await env.close()

    async def main() -> list[float]:
        rewards: list[float] = [0.0] * 4
        async with anyio.create_task_group() as tg:
            for i in range(4):
                async def go(i: int = i) -> None:
                    rewards[i] = await episode(i)
                tg.start_soon(go)
        return rewards

    assert anyio.run(main) == [1.0] * 4
