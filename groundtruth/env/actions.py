"""The action contract: one JSON object per step. A malformed action becomes an error observation.

Types are strict: a claim of `"success": "yes"` or `1`, or `"confidence": "0.9"`, is refused with a message
rather than coerced, because a coerced claim is a claim the agent never made. Whatever a trainer passes
(any JSON value, any Python object) either parses or raises `ActionError` with one line that says what to
send instead; nothing else escapes `parse_action`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, TypeAdapter, ValidationError, field_validator

from groundtruth.env.spaces import Unsendable
from groundtruth.sandbox.base import MAX_COMMAND_BYTES

MAX_PATH = 4096
MAX_MESSAGE = 64 * 1024
MAX_ACTION_TEXT = 16 * 1024 * 1024
MAX_DEPTH = 64


def _number(v: Any, what: str) -> float:
    """A JSON number: int or float, never bool or text, and finite (NaN compares false with every bound)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{what} must be a number, not {type(v).__name__} {_short(v)}")
    f = float(v)
    if math.isnan(f):
        raise ValueError(f"{what} is NaN; give a number")
    if math.isinf(f):
        raise ValueError(f"{what} is infinite; give a finite number")
    return f


def _text(v: str, what: str, *, nul_ok: bool = False) -> str:
    """Text that can reach the sandbox: a lone surrogate cannot be encoded and a NUL cannot be in an argument or a
    path, and either would otherwise fail deep in the engine call instead of here, as the agent's mistake."""
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} is not valid Unicode text (a lone surrogate at position {exc.start})") from exc
    if not nul_ok and "\x00" in v:
        raise ValueError(f"{what} contains a NUL character")
    return v


class _Action(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Bash(_Action):
    tool: Literal["bash"]
    cmd: StrictStr
    timeout: float | None = None

    @field_validator("cmd")
    @classmethod
    def _fits(cls, v: str) -> str:
        _text(v, "cmd")
        size = len(v.encode("utf-8", errors="surrogatepass"))
        if size > MAX_COMMAND_BYTES:
            raise ValueError(f"the command is {size} bytes, over the {MAX_COMMAND_BYTES}-byte limit; write a script "
                             "with write_file, then run it")
        return v

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> float | None:
        if v is None:
            return None
        f = _number(v, "timeout")
        if f <= 0:
            raise ValueError("timeout must be above 0 seconds")
        return f


class ReadFile(_Action):
    tool: Literal["read_file"]
    path: StrictStr = Field(min_length=1, max_length=MAX_PATH)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _text(v, "path")


class WriteFile(_Action):
    tool: Literal["write_file"]
    path: StrictStr = Field(min_length=1, max_length=MAX_PATH)
    content: StrictStr

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _text(v, "path")

    @field_validator("content")
    @classmethod
    def _content(cls, v: str) -> str:
        return _text(v, "content", nul_ok=True)


class AskUser(_Action):
    tool: Literal["ask_user"]
    message: StrictStr = Field(max_length=MAX_MESSAGE)

    @field_validator("message")
    @classmethod
    def _message(cls, v: str) -> str:
        return _text(v, "message", nul_ok=True)


class Submit(_Action):
    tool: Literal["submit"]
    success: StrictBool
    confidence: float
    summary: StrictStr = ""
    objectives: dict[StrictStr, StrictBool] = Field(default_factory=dict)

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str) -> str:
        return _text(v, "summary", nul_ok=True)

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence(cls, v: Any) -> float:
        f = _number(v, "confidence")
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"confidence must be from 0 to 1, not {f}")
        return f


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


def _short(v: Any, limit: int = 60) -> str:
    """A repr that cannot fail or flood a message, whatever the object."""
    try:
        text = repr(v)
    except Exception:  # a trainer's object may have a broken __repr__
        text = f"<{type(v).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def _depth(v: Any, limit: int = MAX_DEPTH) -> int:
    stack: list[tuple[Any, int]] = [(v, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(item, dict):
            stack.extend((x, d + 1) for x in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((x, d + 1) for x in item)
    return deepest


def _as_mapping(raw: Any) -> dict[str, Any]:
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ActionError("the action bytes are not UTF-8 text") from exc
    data: Any = raw
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) > MAX_ACTION_TEXT:
            raise ActionError(f"the action is {len(text)} characters, over the {MAX_ACTION_TEXT} limit")
        if text.startswith("```"):
            text = text.strip("`")
            text = text[4:] if text.startswith("json") else text
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ActionError(f"the action is not valid JSON ({exc.msg} at position {exc.pos})") from exc
        except RecursionError as exc:
            raise ActionError("the action is nested too deeply to be read") from exc
    if isinstance(data, Mapping) and not isinstance(data, dict):
        data = dict(data.items())
    if not isinstance(data, dict):
        raise ActionError(f"the action must be one JSON object with a \"tool\" field, not {type(data).__name__} "
                          f"{_short(data)}")
    if _depth(data) > MAX_DEPTH:
        raise ActionError(f"the action is nested more than {MAX_DEPTH} levels deep")
    return data


def parse_action(raw: str | dict[str, Any], tools: list[str]) -> Action:
    """Accept a JSON string (optionally fenced in ```json) or a dict; explain any problem in one line.

    Typed `str | dict` for callers, but any object is handled: it parses or raises ActionError."""
    try:
        if isinstance(raw, Unsendable):
            raise ActionError(f"the action (a {raw.kind}) could not be sent to the env's worker process, it cannot "
                              f"be pickled ({raw.reason}); send a JSON object")
        data = _as_mapping(raw)
        tool = data.get("tool")
        if not isinstance(tool, str) or tool not in tools:
            raise ActionError(f"unknown tool {_short(tool)}; available tools: {', '.join(tools)}")
        try:
            return _ADAPTER.validate_python(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"][1:]) or "action"
            msg = str(first["msg"]).removeprefix("Value error, ")
            if first["type"] in ("bool_type", "string_type", "dict_type", "missing"):
                msg += f" (got {_short(first.get('input'))})" if first["type"] != "missing" else ""
            raise ActionError(f"bad {tool} action: {where}: {msg}") from exc
    except ActionError:
        raise
    except Exception as exc:  # a trainer's object that breaks while being read is still only a bad action
        raise ActionError(f"the action could not be read ({type(exc).__name__}: {_short(str(exc))})") from exc


def check_objectives(claimed: Mapping[str, bool], known: Collection[str]) -> None:
    """A claim about an objective the task does not have is an error the agent can correct, not a silent drop."""
    unknown = [k for k in claimed if k not in known]
    if unknown:
        raise ActionError(f"bad submit action: objectives: unknown objective id(s) {', '.join(map(repr, unknown))}; "
                          f"this task's objectives are: {', '.join(known)}")


def loggable(raw: Any) -> dict[str, Any] | str:
    """The action as the transcript keeps it: JSON-safe whatever the trainer passed, and never raising."""
    if isinstance(raw, str):
        return raw
    try:
        text = json.dumps(raw, default=_short, allow_nan=True)
        if len(text) > MAX_ACTION_TEXT:
            return text[:MAX_ACTION_TEXT]
        back = json.loads(text)
        return back if isinstance(back, dict) else text
    except Exception:  # circular, unhashable keys, deeply nested: keep what can be shown
        return _short(raw, 2000)
