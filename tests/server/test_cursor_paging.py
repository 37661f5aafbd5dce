"""Paging the capture list by cursor (``after``): following ``next_cursor`` from the start
visits every capture exactly once, in the list's order, for every ordering (NULL sample counts
included) and with filters; a filtered list of more than SMALL_MATCH matches answers "at
least" unless asked ``count=exact``; a cursor that is not one is a 400 that says so."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from capturehub.datamanager._wire import iter_capture_list
from capturehub.server.captures.paging import SMALL_MATCH
from capturehub.server.models import Capture, CaptureMetadataValue
from tests.conftest import RunningServer
from tests.server.helpers import insert_captures
from tests.server.test_paging import CAPTURES, _upload_small


def _follow(api: httpx.Client, base: str, params: dict[str, Any]) -> list[list[str]]:
    """The pages met from ``after=`` (the start) following ``next_cursor`` (uuids per page)."""
    pages: list[list[str]] = []
    after = ""
    while True:
        response = api.get(base, params={**params, "after": after})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) >= {"count", "next", "previous", "results", "next_cursor"}
        assert body["previous"] is None
        pages.append([item["uuid"] for item in body["results"]])
        if body["next_cursor"] is None:
            assert body["next"] is None
            return pages
        # The `next` link is the same request with the cursor in it.
        assert f"after={body['next_cursor']}" in body["next"]
        assert "offset=" not in body["next"]
        after = body["next_cursor"]
        assert len(pages) <= 2 * CAPTURES + 2, "the cursors go round in circles"


def _check_cursors(api: httpx.Client, base: str, params: dict[str, Any]) -> None:
    whole = [c["uuid"] for c in api.get(base, params=params).json()]
    assert whole, params
    for limit in (1, 3, 4, len(whole), len(whole) + 2):
        pages = _follow(api, base, {**params, "limit": limit})
        assert [uuid for page in pages for uuid in page] == whole, (params, limit)
        assert all(len(page) == limit for page in pages[:-1]), (params, limit)
        assert pages[-1], "no empty last page: the server knew no capture followed"


@pytest.fixture
def tagged(server: RunningServer, api: httpx.Client, project: dict[str, Any]) -> str:
    """A project of CAPTURES captures with metadata Group=all on each, two of them without a
    sample count (as before processing: NULL), one sharing another's creation time."""
    p = str(project["uuid"])
    _upload_small(api, p, CAPTURES)
    api.post(f"project/{p}/metadata/", json={"name": "Group", "values": ["all", "odd"]})
    captures = api.get(f"project/{p}/capture/").json()
    tagged = api.post(
        f"project/{p}/metadata-relationship/",
        json=[
            {"capture": c["uuid"], "label": "Group", "label_value": "odd" if i % 2 else "all"}
            for i, c in enumerate(captures)
        ],
    )
    assert tagged.status_code < 300, tagged.text
    context = server.process.context()
    try:
        with context.db.session() as session:
            session.execute(
                update(Capture)
                .where(Capture.uuid.in_([captures[2]["uuid"], captures[7]["uuid"]]))
                .values(number_samples=None)
            )
            # A tie on the sort value: the id must break it, page boundary or not.
            first = session.scalars(
                select(Capture.created_at).where(Capture.uuid == captures[0]["uuid"])
            ).one()
            second = session.scalars(
                select(Capture.id).where(Capture.uuid == captures[1]["uuid"])
            ).one()
            session.execute(
                update(Capture)
                .where(Capture.id == second)
                .values(created_at=first, last_modified=first)
            )
            # The metadata index keeps a copy of the creation time (fsck checks it).
            session.execute(
                update(CaptureMetadataValue)
                .where(CaptureMetadataValue.capture_id == second)
                .values(capture_created_at=first)
            )
    finally:
        context.db.dispose()
    return p


@pytest.mark.parametrize(
    "ordering",
    [
        "created_at",
        "-created_at",
        "last_modified",
        "name",
        "-name",
        "file_size",
        "-file_size",
        "number_samples",
        "-number_samples",
    ],
)
def test_cursors_visit_every_capture_once_in_order(
    api: httpx.Client, tagged: str, ordering: str
) -> None:
    base = f"project/{tagged}/capture/"
    _check_cursors(api, base, {"ordering": ordering})
    _check_cursors(api, base, {"ordering": ordering, "name__contains": "cap-0"})
    _check_cursors(api, base, {"ordering": ordering, "metadata.Group": "all"})


def test_cursors_with_metadata_filters_read_from_the_metadata_index(
    api: httpx.Client, tagged: str
) -> None:
    """Metadata filters alone in the default order page through the metadata index's own
    columns (metadata/filters.py, ``ordered_ids``)."""
    base = f"project/{tagged}/capture/"
    _check_cursors(api, base, {"metadata.Group": "odd"})
    _check_cursors(api, base, {"metadata.Group__in": "all,odd", "ordering": "-created_at"})
    _check_cursors(api, base, {"metadata.Group__exists": "true"})
    empty = api.get(base, params={"metadata.Group": "odd", "name": "none", "after": ""}).json()
    assert empty == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
        "next_cursor": None,
    }


def test_the_sdk_reads_the_list_by_cursor(server: RunningServer, tagged: str) -> None:
    from capturehub import Client

    with Client(server=server.url, username=server.username, password=server.password) as client:
        connection = client.connection
        base = f"project/{tagged}/capture/"
        expected = [c["uuid"] for c in server.http().get(base, params={"ordering": "name"}).json()]
        sent: list[dict[str, Any]] = []
        request = connection.request

        def recording(method: str, path: str, **kwargs: Any) -> httpx.Response:
            sent.append(dict(kwargs.get("params") or {}))
            return request(method, path, **kwargs)

        connection.request = recording  # type: ignore[method-assign]
        got = [
            c["uuid"]
            for c in iter_capture_list(connection, base, {"ordering": "name"}, page_size=3)
        ]
        assert got == expected
        assert len(sent) == -(-CAPTURES // 3)
        assert all("offset" not in params for params in sent)
        assert [params["after"] == "" for params in sent] == [True] + [False] * (len(sent) - 1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"after": "not a cursor"}, "`after` is not a cursor of this list"),
        ({"after": "W1siY3JlYXRlZF9hdCJdXQ"}, "`after` is not a cursor of this list"),
        ({"after": "", "offset": 10}, "either `offset` or `after`"),
        ({"limit": 5, "count": "all"}, "`count` takes only `exact`"),
    ],
)
def test_a_bad_cursor_is_a_400_that_says_what_to_send(
    api: httpx.Client, tagged: str, params: dict[str, Any], message: str
) -> None:
    response = api.get(f"project/{tagged}/capture/", params=params)
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


def test_a_cursor_of_another_ordering_is_refused(api: httpx.Client, tagged: str) -> None:
    base = f"project/{tagged}/capture/"
    cursor = api.get(base, params={"ordering": "name", "limit": 2, "after": ""}).json()
    assert cursor["next_cursor"]
    response = api.get(base, params={"ordering": "-name", "after": cursor["next_cursor"]})
    assert response.status_code == 400, response.text
    assert "made for `ordering=name`, not `-name`" in response.json()["detail"]
    # A cursor whose sort value is of the wrong type for its ordering.
    import base64

    forged = base64.urlsafe_b64encode(b'["name",42,1]').decode().rstrip("=")
    response = api.get(base, params={"ordering": "name", "after": forged})
    assert response.status_code == 400, response.text
    # Forged cursors with values past what a database column holds: integers past 64 bits
    # are refused; a NUL in a text is a text like any other (SQLite compares it, PostgreSQL's
    # texts cannot hold one): a page or a 400, never a 500.
    for ordering, forged_json in [
        ("name", b'["name","a",' + str(10**30).encode() + b"]"),
        ("number_samples", b'["number_samples",' + str(10**30).encode() + b",1]"),
        ("name", b'["name","a\\u0000b",1]'),
    ]:
        forged = base64.urlsafe_b64encode(forged_json).decode().rstrip("=")
        response = api.get(base, params={"ordering": ordering, "after": forged})
        assert response.status_code in (200, 400), (forged_json, response.text)
        if "u0000" not in forged_json.decode():
            assert response.status_code == 400 and response.json()["detail"], response.text


BULK = SMALL_MATCH + 2


@pytest.fixture
def crowded(server: RunningServer, api: httpx.Client, project: dict[str, Any]) -> str:
    """A project whose filter ``name__contains=bulk`` matches BULK captures (more than are
    counted), beside two uploaded ones."""
    p = str(project["uuid"])
    _upload_small(api, p, 2)
    insert_captures(server, p, BULK)
    return p


def test_a_large_filtered_page_says_at_least_unless_asked_exact(
    api: httpx.Client, crowded: str
) -> None:
    base = f"project/{crowded}/capture/"
    page = api.get(base, params={"name__contains": "bulk", "limit": 10}).json()
    assert page["count"] is None
    assert page["count_at_least"] == SMALL_MATCH + 1
    assert [c["name"] for c in page["results"]] == [f"bulk-{i:05d}.csv" for i in range(10)]
    assert page["next"] is not None and "offset=10" in page["next"]
    assert page["previous"] is None
    # Deep offset pages of an uncounted list still know whether another follows.
    last = api.get(base, params={"name__contains": "bulk", "limit": 10, "offset": BULK - 5})
    last_body = last.json()
    assert [c["name"] for c in last_body["results"]] == [
        f"bulk-{i:05d}.csv" for i in range(BULK - 5, BULK)
    ]
    assert last_body["next"] is None and last_body["previous"] is not None
    exact = api.get(base, params={"name__contains": "bulk", "limit": 10, "count": "exact"})
    assert exact.json()["count"] == BULK
    assert "count_at_least" not in exact.json()
    # The unfiltered list's count is stored: always exact.
    assert api.get(base, params={"limit": 1}).json()["count"] == BULK + 2
    # A small filtered list is counted exactly, with the wire shape unchanged.
    few = api.get(base, params={"name__contains": "bulk-0000", "limit": 3}).json()
    assert set(few) == {"count", "next", "previous", "results"}
    assert few["count"] == 10


def test_cursors_read_a_large_filtered_list_once(api: httpx.Client, crowded: str) -> None:
    base = f"project/{crowded}/capture/"
    params: dict[str, Any] = {
        "name__contains": "bulk",
        "ordering": "-number_samples",
        "limit": 1000,
    }
    names: list[str] = []
    after = ""
    while True:
        body = api.get(base, params={**params, "after": after}).json()
        assert body["count"] is None and body["count_at_least"] == SMALL_MATCH + 1
        names.extend(c["name"] for c in body["results"])
        if body["next_cursor"] is None:
            break
        after = body["next_cursor"]
    assert len(names) == BULK
    assert set(names) == {f"bulk-{i:05d}.csv" for i in range(BULK)}
    unpaged = {key: value for key, value in params.items() if key != "limit"}
    whole = [c["name"] for c in api.get(base, params=unpaged).json()]
    assert names == whole
