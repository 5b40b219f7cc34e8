"""The action contract: one JSON object per step. A malformed action becomes an error observation."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class _Action(BaseModel):
    model_config = ConfigDict(extra="allow")


class Bash(_Action):
    tool: Literal["bash"]
    cmd: str
    timeout: float | None = None


class ReadFile(_Action):
    tool: Literal["read_file"]
    path: str


class WriteFile(_Action):
    tool: Literal["write_file"]
    path: str
    content: str


class AskUser(_Action):
    tool: Literal["ask_user"]
    message: str


class Submit(_Action):
    tool: Literal["submit"]
    success: bool
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = ""
    objectives: dict[str, bool] = Field(default_factory=dict)


Action = Annotated[Bash | ReadFile | WriteFile | AskUser | Submit, Field(discriminator="tool")]
_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)

TOOL_HELP = {
    "bash": '{"tool": "bash", "cmd": "ls -la /workspace"}',
    "read_file": '{"tool": "read_file", "path": "/etc/hostname"}',
    "write_file": '{"tool": "write_file", "path": "/workspace/a.txt", "content": "text"}',
    "ask_user": '{"tool": "ask_user", "message": "Which account do you mean?"}',
    "submit": '{"tool": "submit", "success": true, "confidence": 0.9, "summary": "what I did", '
              '"objectives": {"<objective id>": true}}',
}


class ActionError(ValueError):
    pass


def parse_action(raw: str | dict[str, Any], tools: list[str]) -> Action:
    """Accept a JSON string (optionally fenced in ```json) or a dict; explain any problem in one line."""
    data: Any = raw
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("```"):
            text = text.strip("`")
            text = text[4:] if text.startswith("json") else text
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ActionError(f"the action is not valid JSON ({exc.msg} at position {exc.pos})") from exc
    if not isinstance(data, dict):
        raise ActionError("the action must be one JSON object with a \"tool\" field")
    tool = data.get("tool")
    if tool not in tools:
        raise ActionError(f"unknown tool {tool!r}; available tools: {', '.join(tools)}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "action"
        raise ActionError(f"bad {tool} action: {where}: {first['msg']}") from exc
