"""Paged capture lists: every page of every order is the slice of the whole list, whichever
end the server reads it from, and the count kept per project stays exact (fsck checks it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.sql.selectable import NamedFromClause
from starlette.datastructures import QueryParams

from capturehub.server.captures import query as capture_query
from capturehub.server.captures.paging import CapturePage
from capturehub.server.captures.query import CaptureListQuery
from capturehub.server.fsck import fsck
from capturehub.server.models import Capture, Project
from tests.conftest import RunningServer

CAPTURES = 11


def _upload_small(api: httpx.Client, project_uuid: str, count: int) -> list[str]:
    names = []
    for i in range(count):
        # Sizes out of step with names, so that each ordering gives a different list.
        body = "ax,ay\n" + "1,2\n" * ((i * 7) % count + 1)
        name = f"cap-{i:02d}.csv"
        response = api.post(
            f"project/{project_uuid}/capture/",
            data={"name": name, "asynchronous": "False"},
            files={"file": (name, body.encode())},
        )
        assert response.status_code == 201, response.text
        names.append(name)
    return names


@pytest.fixture
def filled(api: httpx.Client, project: dict[str, Any]) -> str:
    _upload_small(api, project["uuid"], CAPTURES)
    return str(project["uuid"])


@pytest.mark.parametrize(
    "ordering", ["created_at", "-created_at", "name", "-name", "file_size", "-number_samples"]
)
def test_every_page_is_a_slice_of_the_whole_list(
    api: httpx.Client, filled: str, ordering: str
) -> None:
    base = f"project/{filled}/capture/"
    whole = [c["uuid"] for c in api.get(base, params={"ordering": ordering}).json()]
    assert len(whole) == CAPTURES
    for limit in (1, 3, 4, CAPTURES, CAPTURES + 5):
        for offset in range(CAPTURES + 2):
            page = api.get(
                base, params={"ordering": ordering, "limit": limit, "offset": offset}
            ).json()
            assert page["count"] == CAPTURES
            assert [c["uuid"] for c in page["results"]] == whole[offset : offset + limit], (
                limit,
                offset,
            )
            assert (page["next"] is None) == (offset + limit >= CAPTURES)
            assert (page["previous"] is None) == (offset == 0 or offset - limit >= CAPTURES)


def test_a_filtered_list_pages_the_same_way(api: httpx.Client, filled: str) -> None:
    base = f"project/{filled}/capture/"
    params = {"name__contains": "cap-0", "ordering": "-name"}
    whole = [c["name"] for c in api.get(base, params=params).json()]
    assert whole == [f"cap-{i:02d}.csv" for i in range(9, -1, -1)]
    # Case-insensitive on both databases.
    shouted = api.get(base, params={**params, "name__contains": "CAP-0"}).json()
    assert [c["name"] for c in shouted] == whole
    for offset in (0, 4, 8, 9, 10):
        page = api.get(base, params={**params, "limit": 3, "offset": offset}).json()
        assert page["count"] == 10
        assert [c["name"] for c in page["results"]] == whole[offset : offset + 3]


@pytest.mark.parametrize(
    "query",
    [
        {"name__contains": "cap-", "ordering": "name"},
        # Metadata filters alone, in the default order: ids from the metadata index.
        {"metadata.Group": "all"},
        {"metadata.Group__exists": "true", "ordering": "-created_at"},
    ],
)
def test_large_filtered_matches_page_from_the_nearer_end(
    server: RunningServer,
    api: httpx.Client,
    filled: str,
    monkeypatch: pytest.MonkeyPatch,
    query: dict[str, str],
) -> None:
    """The path for filters matching more than SMALL_MATCH captures (a count query, then the
    page from the nearer end), run in-process on the server's database with a tiny
    threshold."""
    api.post(f"project/{filled}/metadata/", json={"name": "Group", "values": ["all"]})
    captures = api.get(f"project/{filled}/capture/").json()
    tagged = api.post(
        f"project/{filled}/metadata-relationship/",
        json=[{"capture": c["uuid"], "label": "Group", "label_value": "all"} for c in captures],
    )
    assert tagged.status_code < 300, tagged.text
    monkeypatch.setattr(capture_query, "SMALL_MATCH", 2)
    context = server.process.context()
    try:
        with context.db.read() as session:
            project = session.scalars(select(Project).where(Project.uuid == filled)).one()
            asked = CaptureListQuery.of(QueryParams(query))
            ids_query = asked.ids(project.id, session)
            # Which source answers: capture's columns, or the metadata rows alone.
            source = ids_query.query.get_final_froms()[0]
            assert isinstance(source, NamedFromClause)  # a table or an alias of one: named
            from_metadata = "metadata" in source.name
            assert from_metadata == (not any(key.startswith("name") for key in query))
            everything = asked.filtered(select(Capture.id), project.id, session)
            whole = list(session.scalars(asked.ordered(everything)))
            assert len(whole) == CAPTURES
            for exact in (True, False):
                for limit in (1, 4):
                    for offset in range(CAPTURES + 1):
                        page = CapturePage(limit, offset, exact_count=exact)
                        found = asked.page_of_ids(session, ids_query, page, project.capture_count)
                        # Past SMALL_MATCH matches the count is exact only when asked.
                        assert found.count.exact == (CAPTURES if exact else None)
                        assert found.count.at_least == (CAPTURES if exact else 3)
                        ids = found.ids
                        if not isinstance(ids, list):  # a query of the page's ids: as the route
                            chosen = ids.subquery()
                            joined = select(Capture.id).join(chosen, chosen.c.id == Capture.id)
                            ids = list(session.scalars(asked.ordered(joined)))
                        more = found.more
                        if more is None:  # one id more than the page, when there is one
                            more, ids = len(ids) > limit, ids[:limit]
                        assert ids == whole[offset : offset + limit], (exact, limit, offset)
                        assert more == (offset + limit < CAPTURES), (exact, limit, offset)
    finally:
        context.db.dispose()


def test_the_count_follows_uploads_refusals_and_deletes(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    base = f"project/{p}/capture/"
    _upload_small(api, p, 4)
    # Refused uploads (a duplicate name, a bad file) count nothing.
    duplicate = api.post(base, data={"name": "cap-00.csv"}, files={"file": ("x.csv", b"a\n1\n")})
    assert duplicate.status_code == 409
    bad = api.post(
        base,
        data={"name": "bad.csv", "asynchronous": "False"},
        files={"file": ("bad.csv", b"\x00\x01")},
    )
    assert bad.status_code == 400
    first = api.get(base, params={"ordering": "name"}).json()[0]
    assert api.delete(f"{base}{first['uuid']}/").status_code == 204
    assert api.delete(f"{base}{first['uuid']}/").status_code == 404  # counts nothing either
    page = api.get(base, params={"limit": 2}).json()
    assert page["count"] == 3

    # A count that drifted (e.g. rows changed by hand) is found and corrected by fsck.
    context = server.process.context()
    try:
        with context.db.session() as session:
            session.execute(update(Project).where(Project.uuid == p).values(capture_count=42))
        report = fsck(context)
        assert report.wrong_counts == {p: (42, 3)}
        assert not report.clean
        fsck(context, repair=True)
        assert p not in fsck(context).wrong_counts
    finally:
        context.db.dispose()
    assert api.get(base, params={"limit": 2}).json()["count"] == 3
