"""Capture metadata over HTTP: setting it, the metadata query route and the list's filters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.server.helpers import upload
from tests.server.test_segments import import_watch, subject_age, watch_manifest

Imported = tuple[str, list[dict[str, Any]], dict[str, Any]]


@pytest.fixture(scope="module")
def imported(server: RunningServer, shared_data: Path) -> Iterator[Imported]:
    """21 watch captures (3 per exercise) with Subject, Side and Age, shared by this module's
    read-only tests."""
    with server.http() as api:
        project = api.post("project/", json={"name": f"watch-{uuid.uuid4().hex[:8]}"}).json()
        entries = watch_manifest(shared_data, per_exercise=3)
        yield project["uuid"], entries, import_watch(api, project["uuid"], shared_data, entries)


def names(captures: list[dict[str, Any]]) -> set[str]:
    return {capture["name"] for capture in captures}


def expected(entries: list[dict[str, Any]], keep: Any) -> set[str]:
    return {Path(entry["file"]).name for entry in entries if keep(entry["metadata"])}


def test_query_route(api: httpx.Client, imported: Imported) -> None:
    p, entries, _ = imported
    want = expected(entries, lambda m: m["Subject"] == "S07")
    assert want, "the sample should hold captures of S07"
    for path in (
        "[Subject]=[S07]/",
        "%5BSubject%5D=%5BS07%5D/",  # percent-encoded brackets: decoded once by the server
        "[Subject]=[S07]",  # without the trailing slash
    ):
        response = api.get(f"project/{p}/capture/metadata/{path}")
        assert response.status_code == 200, (path, response.text)
        found = response.json()
        assert names(found) == want, path
        assert {"uuid", "name", "task_state", "max_sequence", "version"} <= set(found[0])
    # Numbers compare as numbers on an integer key.
    ages = api.get(f"project/{p}/capture/metadata/[Age]=[{subject_age('S07')}.0]/").json()
    assert names(ages) == want
    assert api.get(f"project/{p}/capture/metadata/[Subject]=[S99]/").json() == []
    unknown = api.get(f"project/{p}/capture/metadata/[Subjekt]=[S07]/")
    assert unknown.status_code == 200
    assert unknown.json() == []
    malformed = api.get(f"project/{p}/capture/metadata/Subject=S07/")
    assert malformed.status_code == 400
    assert "[key]=[value]" in malformed.json()["detail"]


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("left/right", "left/right"),  # a slash: the value is the rest of the path
        ("left/right/", "left/right/"),
        ("50%", "50%25"),  # a literal percent sign, encoded once
        ("%41", "%2541"),  # decoded exactly once: not "A"
        ("arm ] raised", "arm%20]%20raised"),  # a bracket inside: the value ends at the last ]
        ("a]=[b", "a]=[b"),  # the key ends at the first ]=[
        ("Zürich", "Z%C3%BCrich"),
    ],
)
def test_query_route_values_with_special_characters(
    api: httpx.Client, project: dict[str, Any], shared_data: Path, value: str, sent: str
) -> None:
    p = project["uuid"]
    path = shared_data / "watch" / "captures" / "S01_0_ABD_007.csv"
    tagged = upload(api, p, path, name="tagged", asynchronous=False).json()
    upload(api, p, path, name="other", asynchronous=False)
    key = api.post(f"project/{p}/metadata/", json={"name": "Body part", "is_dropdown": False})
    response = api.post(
        f"v2/project/{p}/capture/{tagged['uuid']}/metadata-relationship/",
        json={"label": key.json()["uuid"], "label_value": value},
    )
    assert response.status_code == 201, response.text
    assert response.json()[0]["value"] == value
    found = api.get(f"project/{p}/capture/metadata/[Body%20part]=[{sent}]/")
    assert found.status_code == 200, found.text
    assert names(found.json()) == {"tagged"}


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ({"metadata.Subject": "S03"}, lambda m: m["Subject"] == "S03"),
        ({"metadata.Subject__in": "S01,S02,S10"}, lambda m: m["Subject"] in {"S01", "S02", "S10"}),
        (
            {"metadata.Age__gte": "30", "metadata.Age__lt": "40"},
            lambda m: 30 <= subject_age(m["Subject"]) < 40,
        ),
        ({"metadata.Age__gt": "44"}, lambda m: subject_age(m["Subject"]) > 44),
        ({"metadata.Age__lte": "26"}, lambda m: subject_age(m["Subject"]) <= 26),
        ({"metadata.Age": "035"}, lambda m: subject_age(m["Subject"]) == 35),
        (
            {"metadata.Side": "1", "metadata.Subject__in": "S01,S04,S05"},
            lambda m: m["Side"] == "1" and m["Subject"] in {"S01", "S04", "S05"},
        ),
        ({"metadata.Side__exists": "true"}, lambda m: True),
        ({"metadata.Side__exists": "false"}, lambda m: False),
        (
            {"metadata.Age__gte": "30", "metadata.Subject__in": "S01,S07,S99"},
            lambda m: subject_age(m["Subject"]) >= 30 and m["Subject"] in {"S01", "S07"},
        ),
        (
            {"metadata.Subject__exists": "true", "metadata.Side__exists": "false"},
            lambda m: False,
        ),
    ],
)
def test_capture_list_filters(
    api: httpx.Client, imported: Imported, query: dict[str, str], keep: Any
) -> None:
    p, entries, _ = imported
    url = f"project/{p}/capture/"
    response = api.get(url, params=query)
    assert response.status_code == 200, response.text
    want = expected(entries, keep)
    assert names(response.json()) == want
    if want:
        assert len(want) < len(entries) or "__exists" in next(iter(query))
    # Pages of a metadata-only query are found from the metadata index alone, the whole list
    # from `capture`: both give the same captures in the same order, with the right count.
    for ordering in ("created_at", "-created_at"):
        whole = [c["uuid"] for c in api.get(url, params={**query, "ordering": ordering}).json()]
        paged: list[str] = []
        for offset in range(0, len(whole) + 1, 2):
            params = {**query, "ordering": ordering, "limit": 2, "offset": offset}
            page = api.get(url, params=params).json()
            assert page["count"] == len(whole), (ordering, offset)
            paged += [c["uuid"] for c in page["results"]]
        assert paged == whole, ordering


def test_filters_and_with_the_other_filters(api: httpx.Client, imported: Imported) -> None:
    p, entries, _ = imported
    subject = entries[0]["metadata"]["Subject"]
    name = Path(entries[0]["file"]).name
    both = api.get(f"project/{p}/capture/", params={"metadata.Subject": subject, "name": name})
    assert names(both.json()) == {name}
    none = api.get(
        f"project/{p}/capture/", params={"metadata.Subject": subject, "task_state": "FAILURE"}
    )
    assert none.json() == []
    page = api.get(f"project/{p}/capture/", params={"metadata.Subject": subject, "limit": 1}).json()
    assert page["count"] == len(expected(entries, lambda m: m["Subject"] == subject))


def test_exists_false_finds_captures_without_the_key(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    p = project["uuid"]
    path = shared_data / "watch" / "captures" / "S01_0_ABD_007.csv"
    with_key = upload(api, p, path, name="with", asynchronous=False).json()
    upload(api, p, path, name="without", asynchronous=False)
    key = api.post(f"project/{p}/metadata/", json={"name": "Device", "values": ["watch"]}).json()
    api.post(
        f"v2/project/{p}/capture/{with_key['uuid']}/metadata-relationship/",
        json={"label": "Device", "label_value": "watch"},
    )
    lacking = api.get(f"project/{p}/capture/", params={"metadata.Device__exists": "false"})
    assert names(lacking.json()) == {"without"}
    having = api.get(f"project/{p}/capture/", params={"metadata.Device__exists": "true"})
    assert names(having.json()) == {"with"}
    assert key["uuid"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"metadata.Subjekt": "S01"}, "Unknown metadata key 'Subjekt'"),
        ({"metadata.Subject__gte": "3"}, "range filters need an integer or float key"),
        ({"metadata.Age__gte": "thirty"}, "'Age' holds integers; 'thirty' is not a number"),
        ({"metadata.Age": "old"}, "'old' is not a number"),
        ({"metadata.Age__in": "30,x"}, "'x' is not a number"),
        ({"metadata.Side__exists": "maybe"}, "must be true or false"),
    ],
)
def test_bad_filters_are_400s(
    api: httpx.Client, imported: Imported, query: dict[str, str], message: str
) -> None:
    p, _, _ = imported
    response = api.get(f"project/{p}/capture/", params=query)
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


def test_one_value_per_key_posting_again_replaces(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    p = project["uuid"]
    path = shared_data / "watch" / "captures" / "S01_0_ABD_007.csv"
    capture = upload(api, p, path, asynchronous=False).json()
    subject = api.post(
        f"project/{p}/metadata/", json={"name": "Subject", "is_dropdown": False}
    ).json()
    url = f"v2/project/{p}/capture/{capture['uuid']}/metadata-relationship/"
    first = api.post(url, json={"label": subject["uuid"], "label_value": "S01"})
    assert first.status_code == 201
    assert isinstance(first.json(), list) and len(first.json()) == 1
    (relationship,) = first.json()
    assert relationship["label"] == subject["uuid"]
    s01 = relationship["label_value"]
    assert (
        api.get(f"project/{p}/metadata/{subject['uuid']}/").json()["label_values"][0]["uuid"] == s01
    )
    # A second value for the same key replaces the first; the relationship keeps its uuid.
    second = api.post(url, json=[{"label": "Subject", "label_value": "S02"}])
    assert second.status_code == 201
    assert second.json()[0]["uuid"] == relationship["uuid"]
    assert second.json()[0]["value"] == "S02"
    assert [r["value"] for r in api.get(url).json()] == ["S02"]
    version = api.get(f"project/{p}/capture/{capture['uuid']}/").json()["version"]
    assert version == capture["version"] + 2
    # The same value again changes nothing, not even the version.
    api.post(url, json={"label": "Subject", "label_value": "S02"})
    assert api.get(f"project/{p}/capture/{capture['uuid']}/").json()["version"] == version
    # The same key twice in one request is ambiguous.
    twice = api.post(
        url,
        json=[
            {"label": "Subject", "label_value": "S03"},
            {"label": "Subject", "label_value": "S04"},
        ],
    )
    assert twice.status_code == 400
    assert "set twice in one request" in twice.json()["detail"]
    # One relationship: GET, PATCH (by value uuid), DELETE.
    one = url + relationship["uuid"] + "/"
    assert api.patch(one, json={"label_value": s01}).json()["value"] == "S01"
    assert api.get(one).json()["label_value"] == s01
    assert api.delete(one).status_code == 204
    assert api.get(url).json() == []
    final = api.get(f"project/{p}/capture/{capture['uuid']}/").json()["version"]
    assert final == version + 2


def test_dropdowns_restrict_values(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    p = project["uuid"]
    path = shared_data / "watch" / "captures" / "S01_0_ABD_007.csv"
    capture = upload(api, p, path, asynchronous=False).json()
    side = api.post(f"project/{p}/metadata/", json={"name": "Side", "values": ["0", "1"]}).json()
    other = api.post(f"project/{p}/metadata/", json={"name": "Hand", "values": ["L"]}).json()
    url = f"v2/project/{p}/capture/{capture['uuid']}/metadata-relationship/"
    refused = api.post(url, json={"label": side["uuid"], "label_value": "2"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "'2' is neither the uuid nor one of the values of the dropdown 'Side' (its values: 0, "
        "1); add the value first or send the uuid of an existing one."
    )
    foreign = api.post(
        url, json={"label": side["uuid"], "label_value": other["label_values"][0]["uuid"]}
    )
    assert foreign.status_code == 400
    assert "belongs to metadata key 'Hand', not to 'Side'" in foreign.json()["detail"]
    accepted = api.post(url, json={"label": side["uuid"], "label_value": "1"})
    assert accepted.status_code == 201
    assert accepted.json()[0]["label_value"] == side["label_values"][1]["uuid"]
    # Segment labels are not metadata keys.
    exercise = api.post(f"project/{p}/label/", json={"name": "Exercise", "values": ["ROW"]})
    wrong = api.post(url, json={"label": exercise.json()["uuid"], "label_value": "ROW"})
    assert wrong.status_code == 400
    assert "'Exercise' is a label, not a metadata key" in wrong.json()["detail"]


def test_project_wide_metadata_pages(api: httpx.Client, imported: Imported) -> None:
    p, entries, _ = imported
    everything = api.get(f"project/{p}/metadata-relationship/").json()
    assert len(everything) == 3 * len(entries)
    page = api.get(f"project/{p}/metadata-relationship/", params={"page_size": 20}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == len(everything) and len(page["results"]) == 20
    assert "page=2" in page["next"] and page["previous"] is None
