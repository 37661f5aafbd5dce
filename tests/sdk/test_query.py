"""The text form of metadata conditions (``capturehub --where``, an export's README) is the
SDK's: each text gives the query string the capture list has always been sent, and reads back
from the filters it gave."""

from __future__ import annotations

import pytest

from capturehub.datamanager.query import (
    condition_text,
    metadata_condition,
    metadata_conditions,
    query_parameters,
)

# text → the capture list's query parameter (the one `capturehub --where` sent)
CASES = [
    ("Subject=S01", ("metadata.Subject", "S01")),
    ("Subject = S01 ", ("metadata.Subject", "S01")),
    ("Subject=S01, S02", ("metadata.Subject__in", "S01,S02")),
    ("Age>=30", ("metadata.Age__gte", "30")),
    ("Age>30", ("metadata.Age__gt", "30")),
    ("Age<=40.5", ("metadata.Age__lte", "40.5")),
    ("Age<40", ("metadata.Age__lt", "40")),
    ("Side", ("metadata.Side__exists", "true")),
    ("!Side", ("metadata.Side__exists", "false")),
    ("Body part=left/right", ("metadata.Body part", "left/right")),
    # metadata keys named like a capture field stay metadata conditions
    ("name=walk", ("metadata.name", "walk")),
    ("task_state>=2", ("metadata.task_state__gte", "2")),
    ("!format", ("metadata.format__exists", "false")),
]


@pytest.mark.parametrize(("text", "parameter"), CASES)
def test_a_condition_gives_the_query_parameter(text: str, parameter: tuple[str, str]) -> None:
    keyword, value = metadata_condition(text)
    assert query_parameters({keyword: value}) == dict([parameter])
    again = condition_text(keyword, value)
    assert again is not None
    assert metadata_condition(again) == (keyword, value)


def test_conditions_and_together() -> None:
    filters = metadata_conditions(["Subject=S01,S02", "Age>=30", "Age<40", "!Side"])
    assert filters == {
        "Subject__in": ["S01", "S02"],
        "Age__gte": "30",
        "Age__lt": "40",
        "Side__exists": False,
    }
    assert [condition_text(k, v) for k, v in filters.items()] == [
        "Subject=S01,S02",
        "Age>=30",
        "Age<40",
        "!Side",
    ]
    assert condition_text("task_state", "SUCCESS") is None  # not a metadata condition


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["=S01"], "is not a condition; use KEY=VALUE"),
        (["!"], "is not a condition"),
        (["Subject!=S01"], "no not-equal filter"),
        (["Age>="], ">= needs a number"),
        (["Subject=S01", "Subject=S02"], "repeats a condition on the same key"),
    ],
)
def test_what_is_not_a_condition_is_explained(texts: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metadata_conditions(texts)
