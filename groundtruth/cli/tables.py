"""Table columns for narrow terminals: ids and seeds are what a user copies, so they are never cut or wrapped;
free text (titles, problems, reasons) wraps instead."""

from __future__ import annotations

from rich.table import Column


def id_column(header: str, **kwargs: object) -> Column:
    """Never truncated, never wrapped: rich shrinks the wrapping columns first, and folds (never cuts with an
    ellipsis) if the terminal is narrower than the ids themselves."""
    return Column(header, no_wrap=True, overflow="fold", **kwargs)  # type: ignore[arg-type]


def text_column(header: str, ratio: int = 1, **kwargs: object) -> Column:
    """Takes the width that is left and wraps on words."""
    return Column(header, ratio=ratio, overflow="fold", **kwargs)  # type: ignore[arg-type]
