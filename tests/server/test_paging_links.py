"""Following a paged list's ``next`` and ``previous`` links (as a client that knows nothing of
offsets does) visits every object exactly once, in the list's order, both ways."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.test_paging import CAPTURES, _upload_small


def _walk(api: httpx.Client, first: str, params: dict[str, Any], link: str) -> list[list[str]]:
    """The pages met from ``first`` following ``link`` until it is null (uuids per page)."""
    pages: list[list[str]] = []
    url: str | None = first
    count = None
    query: dict[str, Any] | None = params
    while url is not None:
        response = api.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"count", "next", "previous", "results"}
        count = body["count"] if count is None else count
        assert body["count"] == count
        pages.append([item["uuid"] for item in body["results"]])
        url, query = body[link], None  # the link carries the whole query
        assert len(pages) <= 2 * CAPTURES + 2, f"the {link} links go round in circles"
    return pages


def _check_walk(api: httpx.Client, base: str, whole: list[str], params: dict[str, Any]) -> None:
    limit = params["limit"] if "limit" in params else params["page_size"]
    forward = _walk(api, base, params, "next")
    seen = [uuid for page in forward for uuid in page]
    assert seen == whole, (params, forward)
    assert all(len(page) == limit for page in forward[:-1]), forward
    # From the last page back to the first.
    last = {**params}
    if "limit" in params:
        last["offset"] = (len(forward) - 1) * limit
    else:
        last["page"] = len(forward)
    backward = _walk(api, base, last, "previous")
    assert [uuid for page in reversed(backward) for uuid in page] == whole, (params, backward)
    assert backward == list(reversed(forward))


@pytest.mark.parametrize("ordering", ["created_at", "-created_at", "name", "-file_size"])
def test_capture_list_links_visit_every_capture_once_in_order(
    api: httpx.Client, project: dict[str, Any], ordering: str
) -> None:
    base = f"project/{project['uuid']}/capture/"
    _upload_small(api, project["uuid"], CAPTURES)
    whole = [c["uuid"] for c in api.get(base, params={"ordering": ordering}).json()]
    assert len(whole) == CAPTURES
    for limit in (1, 3, 4, CAPTURES - 1, CAPTURES):
        _check_walk(api, base, whole, {"ordering": ordering, "limit": limit})
    # Filtered: the list is chosen through another query (the metadata index or a count of
    # the matches); its links must hold too.
    for limit in (2, 5):
        _check_walk(
            api, base, whole, {"ordering": ordering, "limit": limit, "name__contains": "cap-"}
        )


def test_segment_list_links_visit_every_segment_once_in_order(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    capture = api.post(
        f"project/{p}/capture/",
        data={"name": "long.csv", "asynchronous": "False"},
        files={"file": ("long.csv", b"ax\n" + b"1\n" * 100)},
    ).json()["uuid"]
    label = api.post(f"project/{p}/label/", json={"name": "kind", "values": ["a"]}).json()
    created = api.post(
        f"project/{p}/capture/{capture}/label-relationship/",
        json=[
            {
                "label": label["uuid"],
                "label_value": "a",
                "capture_sample_sequence_start": i,
                "capture_sample_sequence_end": i + 1,
            }
            for i in range(CAPTURES)
        ],
    )
    assert created.status_code == 201, created.text
    base = f"project/{p}/label-relationship/"
    whole = [s["uuid"] for s in api.get(base).json()]
    assert sorted(whole) == sorted(s["uuid"] for s in created.json())
    for size in (1, 3, 4, CAPTURES):
        _check_walk(api, base, whole, {"page_size": size})
        _check_walk(api, base, whole, {"limit": size})
