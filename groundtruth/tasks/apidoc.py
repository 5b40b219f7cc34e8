"""`groundtruth tasks api`: the reference of what a Python check can call, generated from FinalState itself
(signatures, return types, docstrings), so it cannot fall behind when FinalState gains a method."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from groundtruth.checks.state import FinalState

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "finalstate.md.j2"
INTERNAL = frozenset({"close"})
_SHORT = re.compile(r"\b(?:groundtruth\.[a-z_.]+\.|typing\.)(?=[A-Za-z])")


class MethodDoc(BaseModel):
    name: str
    signature: str
    doc: str


class TypeDoc(BaseModel):
    name: str
    doc: str
    fields: list[str]


def public_methods() -> list[tuple[str, Any]]:
    return [(n, f) for n, f in inspect.getmembers(FinalState, inspect.isfunction)
            if not n.startswith("_") and n not in INTERNAL]


def _signature(name: str, fn: Any) -> str:
    try:
        sig = inspect.signature(fn, eval_str=True)
    except (NameError, TypeError):  # an annotation that only resolves under TYPE_CHECKING
        sig = inspect.signature(fn)
    text = name + str(sig.replace(parameters=list(sig.parameters.values())[1:]))
    return _SHORT.sub("", text)


def _returned_types(fn: Any) -> list[type]:
    """Classes of ours (or pydantic models) a method returns, found inside list[...] / X | None as well."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except (NameError, TypeError):
        return []
    found: list[type] = []

    def walk(t: Any) -> None:
        for arg in typing.get_args(t):
            walk(arg)
        if isinstance(t, type) and (issubclass(t, BaseModel) or t.__module__.startswith("groundtruth.")):
            found.append(t)

    walk(hint)
    return found


def _fields(t: type) -> list[str]:
    if issubclass(t, BaseModel):
        return [_SHORT.sub("", f"{n}: {inspect.formatannotation(f.annotation)}") for n, f in t.model_fields.items()]
    init = getattr(t, "__init__", None)
    hints = typing.get_type_hints(init) if init is not None else {}
    return [_SHORT.sub("", f"{n}: {inspect.formatannotation(h)}") for n, h in hints.items() if n != "return"]


def reference() -> tuple[list[MethodDoc], list[TypeDoc]]:
    methods = [MethodDoc(name=n, signature=_signature(n, f), doc=inspect.getdoc(f) or "(not documented)")
               for n, f in public_methods()]
    types: dict[str, TypeDoc] = {}
    for _, f in public_methods():
        for t in _returned_types(f):
            if t.__name__ not in types:
                types[t.__name__] = TypeDoc(name=t.__name__, doc=inspect.getdoc(t) if t.__doc__ else "",
                                            fields=_fields(t))
    return methods, sorted(types.values(), key=lambda t: t.name)


def render_markdown() -> str:
    import jinja2

    methods, types = reference()
    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(TEMPLATE.read_text()).render(methods=methods, types=types)
