"""The loader's read-ahead: items in order, errors at the item where they happened, None passed through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.run import prefetched


def _items_failing_at(index: int) -> Iterator[int]:
    for n in range(5):
        if n == index:
            raise OSError(f"file {n} unreadable")
        yield n


def test_items_arrive_in_order_prepared() -> None:
    assert list(prefetched(range(6), lambda n: n * 10)) == [0, 10, 20, 30, 40, 50]


def test_an_error_of_the_source_arrives_after_every_item_before_it() -> None:
    received: list[int] = []
    with pytest.raises(OSError, match="file 3 unreadable"):
        for value in prefetched(_items_failing_at(3), lambda n: n):
            received.append(value)
    assert received == [0, 1, 2]


def test_an_error_of_prepare_arrives_at_its_item_and_none_is_a_value() -> None:
    def prepare(n: int) -> int | None:
        if n == 2:
            raise ValueError("bad batch")
        return None if n == 1 else n

    received: list[int | None] = []
    with pytest.raises(ValueError, match="bad batch"):
        for value in prefetched(range(4), prepare):
            received.append(value)
    assert received == [0, None]
