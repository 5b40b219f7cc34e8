"""Pure logic of the tool-calling agent: function schemas match the action contract; history per mode."""

from __future__ import annotations

from groundtruth.agents.llm import LLMAgent, _Turn
from groundtruth.env.actions import AskUser, Bash, ReadFile, Submit, WriteFile
from groundtruth.env.definitions import ALL_TOOLS
from groundtruth.env.tools import tool_functions

MODELS = {"bash": Bash, "read_file": ReadFile, "write_file": WriteFile, "ask_user": AskUser, "submit": Submit}


def test_tool_functions_match_the_action_models() -> None:
    functions = tool_functions(ALL_TOOLS)
    assert [f["function"]["name"] for f in functions] == ALL_TOOLS
    for f in functions:
        name, params = f["function"]["name"], f["function"]["parameters"]
        schema = MODELS[name].model_json_schema()
        fields = set(schema["properties"]) - {"tool"}
        assert set(params["properties"]) == fields, name
        assert set(params["required"]) == set(schema["required"]) - {"tool"}, name
        assert params["additionalProperties"] is False  # a grammar-constrained server must be able to stop
    assert [f["function"]["name"] for f in tool_functions(["bash", "submit"])] == ["bash", "submit"]


def test_history_is_rendered_for_the_mode_and_keeps_the_task() -> None:
    agent = LLMAgent(base_url="http://127.0.0.1:9/v1", model="m", history_turns=2)
    agent.intro = "Task: do it"
    agent.turns = [
        _Turn(action_text='{"tool": "bash", "cmd": "a"}', call_id="c1", name="bash", arguments='{"cmd": "a"}',
              observation="out a"),
        _Turn(action_text='{"tool": "bash", "cmd": "b"}', call_id="c2", name="bash", arguments='{"cmd": "b"}',
              observation="out b"),
        _Turn(action_text='{"tool": "bash", "cmd": "c"}', observation="out c"),
    ]
    tools = agent._window(tools=True)
    assert [m["role"] for m in tools] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert tools[1]["content"] == "Task: do it"
    assert tools[2]["tool_calls"][0]["id"] == "c2" and tools[3] == {"role": "tool", "tool_call_id": "c2",
                                                                    "content": "out b"}
    plain = agent._window(tools=False)  # after a fallback: no tool messages reach a JSON-mode request
    assert [m["role"] for m in plain] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert plain[2]["content"] == '{"tool": "bash", "cmd": "b"}'
    assert "JSON object" in plain[0]["content"] and "function" in tools[0]["content"]
    agent.close()
