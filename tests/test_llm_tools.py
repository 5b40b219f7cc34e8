"""The LLM agent's native tool calling, end to end against the real local llama.cpp server, offline.

`.ci/llm-server.sh start` serves SmolLM2-135M twice: `smollm2` with the model's own chat template (no tool
calls: the agent must fall back to JSON mode) and `smollm2-tools` with llama.cpp's `chatml-function-calling`
format (native tool calls). A proxy in front of the real server that answers `tools` with HTTP 400 stands for
an endpoint without tool support (older vLLM without `--enable-auto-tool-choice` answers like that).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from groundtruth.agents import llm as llm_module
from groundtruth.agents.base import EpisodeContext
from groundtruth.agents.llm import LLMAgent
from groundtruth.runner import RunConfig, run
from groundtruth.store import Store
from groundtruth.tasks.registry import Registry

pytestmark = [pytest.mark.llm]

TOOLS = ["bash", "read_file", "write_file", "submit"]
INTRO = ("Task:\nDelete the file /data/secret.txt, then submit.\n\nCall one function per turn: bash to run a "
         "command, submit when done.")


@pytest.fixture()
def tools_model(endpoint: str) -> str:
    name = os.environ.get("GROUNDTRUTH_LLM_TOOLS_MODEL")
    if not name:
        if os.environ.get("CI"):
            pytest.fail("CI must export GROUNDTRUTH_LLM_TOOLS_MODEL (printed by .ci/llm-server.sh start)")
        pytest.skip("no tool-calling model alias: restart the server with the current .ci/llm-server.sh")
    return name


@pytest.fixture(autouse=True)
def _forget_fallbacks() -> Iterator[None]:
    """The fallback is remembered per endpoint for the process; each test starts from a clean slate."""
    llm_module._NO_TOOLS.clear()
    yield
    llm_module._NO_TOOLS.clear()


def _begin(agent: LLMAgent) -> None:
    agent.begin(EpisodeContext(task=Registry().get("leaked-token"), variant="default", seed=0, tools=TOOLS,
                               observation=INTRO))


def test_a_native_tool_call_becomes_the_action(endpoint: str, tools_model: str) -> None:
    agent = LLMAgent(model=tools_model)
    try:
        _begin(agent)
        action = agent.act("")
        reply = json.loads(agent.raw_replies[-1])
        assert agent.mode == "tools", agent.fallback
        [call] = reply["tool_calls"][:1]
        assert isinstance(action, dict) and action["tool"] == call["function"]["name"] in TOOLS
        args = json.loads(call["function"]["arguments"])
        assert {k: v for k, v in action.items() if k != "tool"} == args
        # the next turn sends the call back with its result as a `tool` message
        agent.act("exit code 0")
        assert agent.usage.calls == 2 and agent.usage.total_tokens > agent.usage.completion_tokens > 0
        assert len(agent.raw_replies) == 2
    finally:
        agent.close()


def test_a_model_without_tool_calls_falls_back_to_json_and_it_is_remembered(endpoint: str) -> None:
    agent = LLMAgent()  # `smollm2`: the model's own template, which has no tool-call format
    try:
        _begin(agent)
        action = agent.act("")
        assert agent.mode == "json"
        assert agent.fallback is not None and "neither a tool call nor a JSON action" in agent.fallback
        assert isinstance(action, dict), agent.raw_replies[-1]
        assert agent.usage.calls == 2  # the tools request, then the same turn in JSON mode
    finally:
        agent.close()
    second = LLMAgent()
    try:
        assert second.mode == "json"
        _begin(second)
        second.act("")
        assert second.usage.calls == 1  # no second try at tools for the same endpoint and model
    finally:
        second.close()


class _RefuseTools(BaseHTTPRequestHandler):
    upstream = ""
    refused = 0

    def do_GET(self) -> None:
        self._forward(None)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "tools" in json.loads(body or b"{}"):
            type(self).refused += 1
            data = json.dumps({"error": {"message": "tools are not supported", "type": "invalid_request_error"}})
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data.encode())
            return
        self._forward(body)

    def _forward(self, body: bytes | None) -> None:
        req = urllib.request.Request(self.upstream + self.path.removeprefix("/v1"), data=body,
                                     headers={"Content-Type": "application/json"},
                                     method="POST" if body is not None else "GET")
        with urllib.request.urlopen(req, timeout=300) as resp:
            data = resp.read()
            self.send_response(resp.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_endpoint_that_refuses_tools_gets_json_mode(endpoint: str, tools_model: str) -> None:
    _RefuseTools.upstream = endpoint.rstrip("/")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefuseTools)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        agent = LLMAgent(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", model=tools_model)
        _begin(agent)
        action = agent.act("")
        assert _RefuseTools.refused == 1
        assert agent.mode == "json" and agent.fallback is not None and "HTTP 400" in agent.fallback
        assert isinstance(action, dict), agent.raw_replies[-1]
        agent.act("exit code 0")
        assert _RefuseTools.refused == 1  # remembered: tools are not offered again
        agent.close()
    finally:
        server.shutdown()


@pytest.mark.docker
def test_tool_calling_episode_is_stored_with_usage_and_replies(endpoint: str, tools_model: str,
                                                                tmp_path: Path) -> None:
    db = tmp_path / "gt.db"
    agent = f"llm:{tools_model}@{endpoint}"
    _, results = run(RunConfig(tasks=["leaked-token"], agents=[agent], retries=0, max_steps=3), db)
    [r] = results
    assert r.status == "done", r.error
    store = Store.open_readonly(db)
    row = store.agent_llm(r.id)
    store.close()
    assert row is not None
    assert row["mode"] in ("tools", "json") and (row["mode"] == "tools") == (row["fallback"] is None)
    assert row["calls"] >= r.steps >= 1
    assert row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"] > 0
    assert len(row["replies"]) == row["calls"]
    con = sqlite3.connect(db)
    actions = [a for (a,) in con.execute("select action from steps where episode_id = ?", [r.id])]
    assert len(actions) == r.steps
    if row["mode"] == "tools":  # every step's action was a tool call of the reply at the same turn
        calls = [json.loads(rep)["tool_calls"][0]["function"]["name"] for rep in row["replies"]]
        for stored, call in zip(actions, calls, strict=False):
            try:
                tool = json.loads(stored).get("tool")
            except (json.JSONDecodeError, AttributeError):
                continue  # arguments that were not a JSON object: the action was their raw text
            assert tool == call
