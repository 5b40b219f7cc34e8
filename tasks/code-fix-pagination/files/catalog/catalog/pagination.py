"""Page-number pagination shared by the catalog and the orders service.

Pages are numbered from 1. An empty collection still has one (empty) page, so that page 1 is always
valid; any other page past the last one raises PageOutOfRange (the web layer turns it into a 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from catalog.settings import MAX_PER_PAGE

T = TypeVar("T")


class PageOutOfRange(ValueError):
    """The requested page does not exist."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    per_page: int
    total: int
    pages: int

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def first_index(self) -> int:
        """1-based index of the first item on this page (0 when the page is empty)."""
        return (self.number - 1) * self.per_page + 1 if self.items else 0


def page_count(total: int, per_page: int) -> int:
    """How many pages `total` items fill at `per_page` items a page (at least one)."""
    return max(1, total // per_page + 1)


def paginate(items: Sequence[T], page: int = 1, per_page: int = 20) -> Page[T]:
    if not isinstance(page, int) or not isinstance(per_page, int):
        raise TypeError("page and per_page must be integers")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
    if page < 1:
        raise PageOutOfRange(f"page {page} does not exist")
    total = len(items)
    pages = page_count(total, per_page)
    if page > pages:
        raise PageOutOfRange(f"page {page} does not exist (last page is {pages})")
    start = (page - 1) * per_page
    return Page(items=list(items[start:start + per_page]), number=page, per_page=per_page, total=total, pages=pages)
