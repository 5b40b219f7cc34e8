"""Datasette plugin loaded by `groundtruth serve` (--plugins-dir): makes the store readable in a browser.

Epoch seconds become local date-times; episode ids (and the episodes table's step counts) link to their
transcript, the `episode_steps` canned query, whose URL survives the slashes in an id; bulky values (the
verdict JSON, long observations and actions) fold into a one-line summary that opens on click, so a row is
one line tall.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from datasette import hookimpl
from markupsafe import Markup

TIME_COLUMNS = frozenset({"started", "finished", "ts"})
EPISODE_COLUMNS = frozenset({"episode_id"})
FOLD_AT = 120
# One line per row: cells do not wrap (the table scrolls sideways instead); an opened fold wraps its text.
CSS = ("table.rows-and-columns td{white-space:nowrap}"
       "table.rows-and-columns td details[open] pre{white-space:pre-wrap;min-width:30rem}")


@hookimpl  # type: ignore[untyped-decorator]
def extra_css_urls() -> list[str]:
    return ["data:text/css;charset=utf-8," + quote(CSS)]


def _episode_link(datasette: Any, database: str, episode_id: str) -> Markup:
    url = datasette.urls.database(database) + "/episode_steps?" + urlencode({"episode_id": episode_id})
    return Markup(f'<a href="{html.escape(url)}" title="transcript of this episode">{html.escape(episode_id)}</a>')


def _fold(summary: str, full: str) -> Markup:
    return Markup(f'<details><summary>{html.escape(summary)}</summary>'
                  f'<pre style="white-space:pre-wrap;max-width:60rem">{html.escape(full)}</pre></details>')


def _verdict(value: str) -> Markup | None:
    try:
        v = json.loads(value)
    except (TypeError, ValueError):
        return None
    if not isinstance(v, dict):
        return None
    checks = v.get("checks") or []
    failing = [c.get("id", "?") for c in checks if isinstance(c, dict) and c.get("status") != "pass"]
    summary = f"{v.get('outcome', '?')}{' TAMPERED' if v.get('tampered') else ''}, {len(checks)} checks"
    if failing:
        summary += f", not passing: {', '.join(failing[:4])}{'…' if len(failing) > 4 else ''}"
    return _fold(summary, json.dumps(v, indent=2))


@hookimpl  # type: ignore[untyped-decorator]
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    if value is None:
        return None
    if column in TIME_COLUMNS and isinstance(value, int | float) and value > 1e8:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
        return Markup(f'<span title="{value}" style="white-space:nowrap">{stamp}</span>')
    if table == "episodes" and column == "steps" and isinstance(value, int):
        # Datasette renders the id cell itself (a link to the row page), so the step count links to the steps.
        url = datasette.urls.database(database) + "/episode_steps?" + urlencode({"episode_id": row["id"]})
        return Markup(f'<a href="{html.escape(url)}" title="transcript of this episode">{value} steps</a>')
    is_episode = column in EPISODE_COLUMNS or (column == "id" and table in (None, "episodes"))
    if is_episode and isinstance(value, str) and value.count("/") >= 4:
        return _episode_link(datasette, database, value)
    if column == "verdict" and isinstance(value, str):
        return _verdict(value)
    if column == "config" and table == "runs" and isinstance(value, str):
        return _fold(value[:FOLD_AT] + ("…" if len(value) > FOLD_AT else ""), value)
    if isinstance(value, str) and (len(value) > FOLD_AT or value.count("\n") > 2):
        first = value.strip().splitlines()[0] if value.strip() else ""
        return _fold(first[:FOLD_AT] + "…", value)
    return None
