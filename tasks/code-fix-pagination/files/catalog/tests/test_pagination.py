import pytest

from catalog.pagination import PageOutOfRange, page_count, paginate

ITEMS = list(range(1, 21))  # 20 items


@pytest.mark.parametrize(("per_page", "pages"), [(5, 4), (10, 2), (20, 1)])
def test_page_count(per_page, pages):
    assert page_count(len(ITEMS), per_page) == pages


def test_first_and_last_page():
    first = paginate(ITEMS, 1, 5)
    assert first.items == [1, 2, 3, 4, 5]
    assert first.has_next and not first.has_prev
    last = paginate(ITEMS, 4, 5)
    assert last.items == [16, 17, 18, 19, 20]
    assert not last.has_next and last.has_prev


def test_walking_all_pages_returns_every_item_once():
    seen, page = [], 1
    while True:
        p = paginate(ITEMS, page, 10)
        seen += p.items
        if not p.has_next:
            break
        page += 1
    assert seen == ITEMS


def test_page_past_the_end():
    with pytest.raises(PageOutOfRange):
        paginate(ITEMS, 5, 5)
    with pytest.raises(PageOutOfRange):
        paginate(ITEMS, 0, 5)


def test_empty_collection_has_one_empty_page():
    p = paginate([], 1, 10)
    assert p.items == [] and p.pages == 1 and not p.has_next
    with pytest.raises(PageOutOfRange):
        paginate([], 2, 10)


@pytest.mark.parametrize("per_page", [0, -1, 101])
def test_bad_per_page(per_page):
    with pytest.raises(ValueError):
        paginate(ITEMS, 1, per_page)
