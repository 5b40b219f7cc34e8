"""Reading what agents and simulated users write: private reasoning, stop signals, progress reports, facts.

Pure functions shared by every simulator and by the drift metrics, so that what a simulator believed it heard
and what the metrics later say it should have heard are decided by the same rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel

from groundtruth.tasks.spec import Goal

# -- private reasoning ------------------------------------------------------------------------------------

_REASONING_TAGS = ("think", "thinking", "thought", "reasoning", "reflection", "scratchpad", "analysis")
_TAG_ALT = "|".join(_REASONING_TAGS)
_CLOSED_BLOCK = re.compile(rf"<\s*({_TAG_ALT})\b[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_OPEN_TAG = re.compile(rf"<\s*(?:{_TAG_ALT})\b[^>]*>", re.I)
_CLOSE_TAG = re.compile(rf"<\s*/\s*(?:{_TAG_ALT})\s*>", re.I)
# ReAct-style labels: a reasoning paragraph runs from its label to a blank line or the next visible label.
_THOUGHT_LINE = re.compile(r"^\s*(?:[*_#>\s]*)(?:thought|thoughts|thinking|reasoning|reflection|internal"
                           r"|inner monologue|scratchpad|analysis|plan)\s*[*_]*\s*:", re.I)
_VISIBLE_LINE = re.compile(r"^\s*(?:[*_#>\s]*)(?:action|action input|answer|final answer|message|reply|response"
                           r"|observation|to the user|user)\s*[*_]*\s*:", re.I)
_PRIVATE_KEYS = frozenset({
    "thought", "thoughts", "thinking", "reasoning", "reasoning_content", "reflection", "analysis", "scratchpad",
    "chain_of_thought", "cot", "inner_monologue", "internal", "plan", "private", "notes_to_self",
})
_VISIBLE_KEYS = ("message", "reply", "response", "content", "text", "answer", "final_answer")


def drop_private_fields(data: Any) -> Any:
    """A JSON value without reasoning fields (`thought`, `reasoning`, ...), at any depth."""
    if isinstance(data, dict):
        return {k: drop_private_fields(v) for k, v in data.items() if str(k).lower() not in _PRIVATE_KEYS}
    if isinstance(data, list):
        return [drop_private_fields(v) for v in data]
    return data


def strip_reasoning_blocks(text: str) -> str:
    """Only the tagged blocks; a JSON answer around them stays whole."""
    out = _CLOSED_BLOCK.sub(" ", text)
    close = list(_CLOSE_TAG.finditer(out))
    if close:  # the template opened the block: everything before the last stray closing tag is reasoning
        out = out[close[-1].end():]
    opened = _OPEN_TAG.search(out)
    if opened:  # never closed: the rest is reasoning
        out = out[: opened.start()]
    return out


def strip_reasoning(text: str) -> str:
    """What a user may see of a message: no `<think>` blocks, no "Thought:" paragraphs, no private JSON fields.

    Models leak reasoning in three common shapes: tagged blocks (sometimes with only the closing tag, when the
    chat template opened it, or only the opening one, when the budget ran out), ReAct-style labelled lines,
    and JSON objects with a `thought`/`reasoning` field beside the message. A user who could read them would
    be judging the agent's intentions, not its report.
    """
    out = strip_reasoning_blocks(text)
    stripped = out.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            clean = drop_private_fields(data)
            for key in _VISIBLE_KEYS:
                if isinstance(clean.get(key), str):
                    return strip_reasoning(clean[key])
            return json.dumps(clean, ensure_ascii=False) if clean else ""
    lines: list[str] = []
    in_thought = False
    for line in out.splitlines():
        if _THOUGHT_LINE.match(line):
            in_thought = True
            continue
        if in_thought and (not line.strip() or _VISIBLE_LINE.match(line)):
            in_thought = False
        if in_thought:
            continue
        m = _VISIBLE_LINE.match(line)
        lines.append(line[m.end():].strip() if m else line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# -- stop signals ------------------------------------------------------------------------------------------

STOP_TOKENS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###", "[DONE]", "[STOP]", "<|stop|>")


def _token_pattern(token: str) -> str:
    """Words match case-insensitively; spaces may sit between parts (`### stop ###`), a repeated symbol may
    repeat any number of times from two (`##STOP##`), and `-`/`_` inside a token are interchangeable."""
    pieces = []
    for m in re.finditer(r"[A-Za-z]+|[-_]|([^A-Za-z\s])\1*", token):
        part = m.group(0)
        if part.isalpha():
            pieces.append(re.escape(part))
        elif part in ("-", "_"):
            pieces.append("[-_ ]?")
        elif len(part) > 1:
            pieces.append(rf"(?:{re.escape(part[0])}\s*){{2,}}")
        else:
            pieces.append(re.escape(part))
    return r"\s*".join(pieces)


def split_stop(text: str, tokens: Sequence[str] = STOP_TOKENS) -> tuple[str, bool]:
    """The message without its stop signals, and whether there was one.

    Tokens are found anywhere, also glued to words ("thanks!###STOP###") or split by spaces or markdown
    escapes; a bare `STOP` word is not a signal, only the delimited tokens are.
    """
    unescaped = re.sub(r"\\([#\[\]_|<>])", r"\1", text)
    pattern = re.compile("|".join(_token_pattern(t) for t in tokens), re.I)
    cleaned, n = pattern.subn(" ", unescaped)
    if not n:
        return text.strip(), False
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    cleaned = re.sub(r"\s+([.,!?])", r"\1", cleaned)
    return cleaned.strip(), True


# -- progress reports in agent messages ----------------------------------------------------------------

ReportKind = Literal["done", "blocked", "none"]

_BLOCKED = re.compile(
    r"\b(?:couldn'?t|could not|can'?t|cannot|can not|unable|blocked|denied|not allowed|not permitted|forbidden"
    r"|failed|fails|impossible|no permission|refused|wasn'?t able|was not able|won'?t let)\b")
_NOT_DONE = re.compile(
    r"\b(?:not (?:yet )?(?:done|finished|complete|completed|fixed)|haven'?t|have not|hasn'?t|has not|didn'?t"
    r"|did not|still working|in progress|not yet|working on)\b")
_DONE = re.compile(
    r"\b(?:done|completed|complete|finished|fixed|resolved|removed|deleted|created|granted|added|updated|set up"
    r"|taken care of|all set|succeeded|sorted out|cleaned up|disabled|archived|merged|wrote|written)\b")
_FUTURE = re.compile(
    r"\b(?:will|i'll|we'll|going to|let me|shall|should i|could you|can you|would you|do you|want me|plan to"
    r"|about to|next i|before i|may i)\b")


class Report(BaseModel):
    """What an agent's message says about progress, as a plain user reads it."""

    kind: ReportKind = "none"
    objectives: list[str] = []
    requirements: list[str] = []
    reopened: bool = False  # "not done yet": takes a completion back


def _sentences(text: str) -> list[tuple[str, bool]]:
    """(sentence, is_question); a sentence ends at `.`, `!`, `?` or a line break."""
    out = []
    for m in re.finditer(r"[^.!?\n]+[.!?]*", text):
        s = m.group(0).strip()
        if s:
            out.append((s, s.endswith("?")))
    return out


def _mentions(text: str, ident: str) -> bool:
    words = [re.escape(w) for w in re.split(r"[-_\s]+", ident) if w]
    return bool(words) and re.search(r"\b" + r"[-_\s]*".join(words) + r"\b", text) is not None


def parse_report(message: str, goal: Goal) -> Report:
    """Done, blocked, or no report; and which goal items it covers (all of them when it names none).

    Sentence by sentence: questions and announcements ("I will ...") report nothing; "could not"/"blocked" wins
    over "done"; a negated completion ("not done yet") cancels a claim of completion in the same message.
    """
    text = strip_reasoning(message).lower().replace("\u2019", "'")
    blocked = done = negated = False
    for sentence, question in _sentences(text):
        if question:
            continue
        if _BLOCKED.search(sentence):
            blocked = True
        elif _FUTURE.search(sentence):
            continue
        elif _NOT_DONE.search(sentence):
            negated = True
        elif _DONE.search(sentence):
            done = True
    kind: ReportKind = "blocked" if blocked else ("done" if done and not negated else "none")
    if kind == "none":
        return Report(reopened=negated)
    objectives = [o.id for o in goal.objectives if _mentions(text, o.id)]
    requirements = [r.id for r in goal.requirements if _mentions(text, r.id)]
    if not objectives and not requirements:  # "all done" speaks for the whole task
        objectives = [o.id for o in goal.objectives]
        requirements = [r.id for r in goal.requirements]
    return Report(kind=kind, objectives=objectives, requirements=requirements)


# -- facts a user states about itself ------------------------------------------------------------------------

def key_pattern(key: str) -> str:
    """`email_domain` also matches "email domain" and "email-domain"."""
    return r"[\s_-]*".join(re.escape(w) for w in re.split(r"[\s_-]+", key) if w)


def norm_value(value: str) -> str:
    return re.sub(r"\s+", " ", value.strip().strip("\"'`*").rstrip(".!,;:").strip().lower())


class Statement(BaseModel):
    """"my KEY is VALUE" (or "is not VALUE") in a user's line."""

    key: str
    value: str
    negated: bool = False


def profile_statements(line: str, keys: Iterable[str]) -> list[Statement]:
    out = []
    for key in keys:
        pat = re.compile(
            rf"\bmy\s+{key_pattern(key)}\s+(?:is|was|=|:)\s+(?P<neg>not\s+)?(?P<v>.+?)"
            rf"(?=\s+(?:and|but)\s+(?:my|i)\b|[,;!?\n]|\.(?:\s|$)|$)", re.I)
        for m in pat.finditer(line):
            value = m.group("v").strip()
            if value:
                out.append(Statement(key=key, value=value, negated=bool(m.group("neg"))))
    return out


def states_contradiction(statement: Statement, expected: str) -> bool:
    same = norm_value(statement.value) == norm_value(expected)
    return same if statement.negated else not same


# -- what the user knows ---------------------------------------------------------------------------------


def asked_about(goal: Goal, message: str) -> list[str]:
    """Ids of the `goal.knowledge` items a message asks about: it names one of the item's `about` words or
    phrases (whole words, any case, `_`/`-`/space alike). Shared by the scripted and the LLM user."""
    text = message.lower()
    return [k.id for k in goal.knowledge
            if any(re.search(rf"\b{key_pattern(word.lower())}\b", text) for word in k.about)]


_QUESTION = re.compile(r"\?|^\s*(?:what|which|where|when|who|whom|whose|why|how|should|shall|can|could|do|does"
                       r"|did|is|are|may|would|will)\b", re.I | re.M)


def is_question(message: str) -> bool:
    return bool(_QUESTION.search(message))
