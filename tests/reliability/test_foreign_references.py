"""Ids inside request bodies are checked against the project of the URL.

The route's project is the caller's (tests/reliability/test_isolation.py checks the URLs), but
a body also names things: the capture, label, value and segmenter of a segment, the capture,
metadata key and value of a metadata relationship, the segments and relationships to change or
delete, the capture configuration of a capture, the captures of a download list. Each of those
fields is sent with the id of an object of another project of the same team, and of a project
of another team, into a request that would succeed with the caller's own ids. Every such
request must be answered 4xx, and afterwards nothing was created, changed or deleted, in the
caller's project or in the one the id came from.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.reliability.support import client

CSV = b"AccelX,AccelY\n1,2\n3,4\n5,6\n7,8\n"
START, END = "capture_sample_sequence_start", "capture_sample_sequence_end"


@dataclass(frozen=True)
class World:
    """One project's objects (every one referable by id)."""

    project: str
    capture: str
    label: str
    value: str
    meta: str
    meta_value: str
    segmenter: int
    configuration: str
    segment: str
    relationship: str


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _world(api: httpx.Client, prefix: str) -> World:
    def unique(what: str) -> str:
        return f"{prefix}-{what}-{uuid.uuid4().hex[:8]}"

    p = _ok(api.post("project/", json={"name": unique("project")}))["uuid"]
    configuration = _ok(
        api.post(
            f"project/{p}/captureconfiguration/",
            json={"name": unique("config"), "configuration": {}},
        )
    )["uuid"]
    c = _ok(
        api.post(
            f"project/{p}/capture/",
            data={
                "name": unique("capture"),
                "asynchronous": "False",
                "capture_configuration_uuid": configuration,
            },
            files={"file": ("a.csv", CSV)},
        )
    )["uuid"]
    # Dropdowns (the default): a value must be an existing one, so a foreign value uuid cannot
    # pass for a new raw value.
    label = _ok(api.post(f"project/{p}/label/", json={"name": unique("label"), "values": ["a"]}))
    meta = _ok(api.post(f"project/{p}/metadata/", json={"name": unique("meta"), "values": ["m"]}))
    segmenter = _ok(api.post(f"project/{p}/segmenter/", json={"name": unique("segmenter")}))["id"]
    value, meta_value = label["label_values"][0]["uuid"], meta["label_values"][0]["uuid"]
    segment = _ok(
        api.post(
            f"project/{p}/capture/{c}/label-relationship/",
            json={
                "label": label["uuid"],
                "label_value": value,
                START: 0,
                END: 1,
                "segmenter": segmenter,
            },
        )
    )[0]["uuid"]
    relationship = _ok(
        api.post(
            f"v2/project/{p}/capture/{c}/metadata-relationship/",
            json={"label": meta["uuid"], "label_value": meta_value},
        )
    )[0]["uuid"]
    return World(
        project=p,
        capture=c,
        label=label["uuid"],
        value=value,
        meta=meta["uuid"],
        meta_value=meta_value,
        segmenter=segmenter,
        configuration=configuration,
        segment=segment,
        relationship=relationship,
    )


@dataclass
class Worlds:
    home: World  # team A
    neighbour: World  # team A, another project
    rival: World  # team B


@pytest.fixture(scope="module")
def worlds(server: RunningServer) -> Worlds:
    with (
        client(server.url, server.token()) as a,
        client(server.url, server.token(server.other)) as b,
    ):
        return Worlds(
            home=_world(a, "home"), neighbour=_world(a, "neighbour"), rival=_world(b, "rival")
        )


@dataclass
class Scene:
    """A caller acting in its own project (``own``) with ids taken from ``foreign``."""

    api: httpx.Client
    own: World
    foreign: World
    foreign_api: httpx.Client  # the foreign project's owner, to look at it afterwards
    same_team: bool


@pytest.fixture(params=["another project of the team", "another team"])
def scene(request: pytest.FixtureRequest, server: RunningServer, worlds: Worlds) -> Iterator[Scene]:
    with (
        client(server.url, server.token()) as a,
        client(server.url, server.token(server.other)) as b,
    ):
        if request.param == "another team":
            yield Scene(
                api=b, own=worlds.rival, foreign=worlds.home, foreign_api=a, same_team=False
            )
        else:
            yield Scene(
                api=a, own=worlds.home, foreign=worlds.neighbour, foreign_api=a, same_team=True
            )


def _segment(label: str, value: str, **more: Any) -> dict[str, Any]:
    return {"label": label, "label_value": value, START: 0, END: 2, **more}


Attempt = Callable[[Scene], httpx.Response]


def _foreign_segment_fields(s: Scene, field: str) -> dict[str, Any]:
    """``field`` (or ``label+label_value``: a foreign label with one of its own values, which
    agree with each other) set to the foreign project's ids."""
    ids = {
        "capture": s.foreign.capture,
        "label": s.foreign.label,
        "label_value": s.foreign.value,
        "segmenter": s.foreign.segmenter,
    }
    return {name: ids[name] for name in field.split("+")}


def _foreign_metadata_fields(s: Scene, field: str) -> dict[str, Any]:
    ids = {
        "capture": s.foreign.capture,
        "label": s.foreign.meta,
        "label_value": s.foreign.meta_value,
    }
    return {name: ids[name] for name in field.split("+")}


def _project_segment(field: str) -> Attempt:
    """POST project/{p}/label-relationship/, one field foreign; in a list after a valid item
    (the whole list is refused)."""

    def attempt(s: Scene) -> httpx.Response:
        item: dict[str, Any] = {
            "capture": s.own.capture,
            **_segment(s.own.label, s.own.value, segmenter=s.own.segmenter),
        }
        valid = dict(item)
        item.update(_foreign_segment_fields(s, field))
        return s.api.post(f"project/{s.own.project}/label-relationship/", json=[valid, item])

    return attempt


def _capture_segment(field: str) -> Attempt:
    """POST project/{p}/capture/{c}/label-relationship/ with one field foreign."""

    def attempt(s: Scene) -> httpx.Response:
        item = _segment(s.own.label, s.own.value, segmenter=s.own.segmenter)
        item.update(_foreign_segment_fields(s, field))
        return s.api.post(
            f"project/{s.own.project}/capture/{s.own.capture}/label-relationship/", json=item
        )

    return attempt


def _segmenter_segment(field: str) -> Attempt:
    """POST v2/project/{p}/segmenter/{id}/label-relationship/ with one field foreign."""

    def attempt(s: Scene) -> httpx.Response:
        item: dict[str, Any] = {"capture": s.own.capture, **_segment(s.own.label, s.own.value)}
        item.update(_foreign_segment_fields(s, field))
        return s.api.post(
            f"v2/project/{s.own.project}/segmenter/{s.own.segmenter}/label-relationship/",
            json=[item],
        )

    return attempt


def _segment_update(field: str, *, where: str) -> Attempt:
    """Change the caller's own segment, one field set to a foreign id (``uuid``: change the
    foreign segment itself), through the project list, the capture list or the one segment."""

    def attempt(s: Scene) -> httpx.Response:
        item: dict[str, Any] = {"uuid": s.own.segment, START: 0, END: 3}
        item[field] = {
            "uuid": s.foreign.segment,
            "label": s.foreign.label,
            "label_value": s.foreign.value,
            "segmenter": s.foreign.segmenter,
        }[field]
        if where == "project":
            return s.api.put(f"project/{s.own.project}/label-relationship/", json=[item])
        base = f"project/{s.own.project}/capture/{s.own.capture}/label-relationship/"
        if where == "capture":
            return s.api.put(base, json=[item])
        segment = item.pop("uuid")
        return s.api.patch(f"{base}{segment}/", json=item)

    return attempt


def _segment_delete(where: str) -> Attempt:
    def attempt(s: Scene) -> httpx.Response:
        body = [s.foreign.segment]
        if where == "project":
            url = f"project/{s.own.project}/label-relationship/"
        else:
            url = f"project/{s.own.project}/capture/{s.own.capture}/label-relationship/"
        return s.api.request("DELETE", url, json=body)

    return attempt


def _project_metadata(field: str) -> Attempt:
    """POST project/{p}/metadata-relationship/, one field foreign, after a valid item. The
    valid item sets the caller's key on its capture again (a change, were it saved)."""

    def attempt(s: Scene) -> httpx.Response:
        valid = {"capture": s.own.capture, "label": s.own.meta, "label_value": s.own.meta_value}
        item = dict(valid)
        item.update(_foreign_metadata_fields(s, field))
        return s.api.post(f"project/{s.own.project}/metadata-relationship/", json=[valid, item])

    return attempt


def _capture_metadata(field: str) -> Attempt:
    def attempt(s: Scene) -> httpx.Response:
        item = {"label": s.own.meta, "label_value": s.own.meta_value}
        item.update(_foreign_metadata_fields(s, field))
        return s.api.post(
            f"v2/project/{s.own.project}/capture/{s.own.capture}/metadata-relationship/",
            json=item,
        )

    return attempt


def _metadata_update(field: str, *, where: str) -> Attempt:
    def attempt(s: Scene) -> httpx.Response:
        if field == "uuid":
            item = {"uuid": s.foreign.relationship, "label_value": s.own.meta_value}
        else:
            item = {"uuid": s.own.relationship, "label_value": s.foreign.meta_value}
        if where == "project":
            return s.api.put(f"project/{s.own.project}/metadata-relationship/", json=[item])
        base = f"v2/project/{s.own.project}/capture/{s.own.capture}/metadata-relationship/"
        if where == "capture":
            return s.api.put(base, json=[item])
        relationship = item.pop("uuid")
        return s.api.patch(f"{base}{relationship}/", json=item)

    return attempt


def _metadata_delete(where: str) -> Attempt:
    def attempt(s: Scene) -> httpx.Response:
        if where == "project":
            url = f"project/{s.own.project}/metadata-relationship/"
        else:
            url = f"v2/project/{s.own.project}/capture/{s.own.capture}/metadata-relationship/"
        return s.api.request("DELETE", url, json=[s.foreign.relationship])

    return attempt


def _upload_with_configuration(s: Scene) -> httpx.Response:
    return s.api.post(
        f"project/{s.own.project}/capture/",
        data={
            "name": f"borrowed-{uuid.uuid4().hex[:8]}",
            "capture_configuration_uuid": s.foreign.configuration,
        },
        files={"file": ("b.csv", CSV)},
    )


def _capture_configuration_change(method: str, *, form: bool) -> Attempt:
    def attempt(s: Scene) -> httpx.Response:
        url = f"project/{s.own.project}/capture/{s.own.capture}/"
        fields = {"capture_configuration_uuid": s.foreign.configuration}
        if form:
            return s.api.request(method, url, data=fields, files={"file": ("b.csv", CSV)})
        return s.api.request(method, url, json=fields)

    return attempt


def _configuration_with_foreign_uuid(s: Scene) -> httpx.Response:
    return s.api.post(
        f"project/{s.own.project}/captureconfiguration/",
        json={"name": f"copy-{uuid.uuid4().hex[:8]}", "uuid": s.foreign.configuration},
    )


def _capture_files(s: Scene) -> httpx.Response:
    return s.api.post(
        f"project/{s.own.project}/capture-files/",
        json={"capture_uuids": [s.own.capture, s.foreign.capture]},
    )


ATTEMPTS: dict[str, Attempt] = {
    **{
        f"segment list: {field}": _project_segment(field)
        for field in ("capture", "label", "label_value", "segmenter", "label+label_value")
    },
    **{
        f"capture's segments: {field}": _capture_segment(field)
        for field in ("label", "label_value", "segmenter", "label+label_value")
    },
    **{
        f"segmenter's segments: {field}": _segmenter_segment(field)
        for field in ("capture", "label", "label_value", "label+label_value")
    },
    **{
        f"segment change ({where}): {field}": _segment_update(field, where=where)
        for where in ("project", "capture", "one")
        for field in ("uuid", "label", "label_value", "segmenter")
        if not (where == "one" and field == "uuid")
    },
    **{f"segment delete ({where})": _segment_delete(where) for where in ("project", "capture")},
    **{
        f"metadata list: {field}": _project_metadata(field)
        for field in ("capture", "label", "label_value", "label+label_value")
    },
    **{
        f"capture's metadata: {field}": _capture_metadata(field)
        for field in ("label", "label_value", "label+label_value")
    },
    **{
        f"metadata change ({where}): {field}": _metadata_update(field, where=where)
        for where in ("project", "capture", "one")
        for field in ("uuid", "label_value")
        if not (where == "one" and field == "uuid")
    },
    **{f"metadata delete ({where})": _metadata_delete(where) for where in ("project", "capture")},
    "upload: capture_configuration_uuid": _upload_with_configuration,
    **{
        f"capture {method} ({'form' if form else 'JSON'}): capture_configuration_uuid": (
            _capture_configuration_change(method, form=form)
        )
        for method in ("PATCH", "PUT")
        for form in (False, True)
    },
    "capture-files: capture_uuids": _capture_files,
}


def _snapshot(api: httpx.Client, world: World) -> dict[str, Any]:
    """Everything a body could create, change or delete in one project."""
    p, c = world.project, world.capture

    def get(path: str) -> Any:
        response = api.get(path, params={"limit": 1000})
        assert response.status_code == 200, f"{path}: {response.text}"
        return response.json()

    return {
        "captures": get(f"project/{p}/capture/"),
        "capture": get(f"project/{p}/capture/{c}/"),
        "segments": get(f"project/{p}/label-relationship/"),
        "metadata": get(f"project/{p}/metadata-relationship/"),
        "labels": get(f"project/{p}/label/"),
        "metadata keys": get(f"project/{p}/metadata/"),
        "segmenters": get(f"project/{p}/segmenter/"),
        "configurations": get(f"project/{p}/captureconfiguration/"),
    }


def test_a_body_naming_a_foreign_object_is_refused_and_changes_nothing(scene: Scene) -> None:
    """Every attempt in turn (one test, so that the snapshots are taken once: a list of
    attempts in the message tells which one was let through)."""
    own_before = _snapshot(scene.api, scene.own)
    foreign_before = _snapshot(scene.foreign_api, scene.foreign)
    attempts = dict(ATTEMPTS)
    if scene.same_team:  # configuration uuids are unique per team (see the test below)
        attempts["configuration create: uuid"] = _configuration_with_foreign_uuid
    accepted = []
    for name, attempt in attempts.items():
        response = attempt(scene)
        if not 400 <= response.status_code < 500 or not response.json().get("detail"):
            accepted.append(f"{name}: {response.status_code} {response.text[:300]}")
    assert not accepted, "answered other than 4xx:\n" + "\n".join(accepted)
    own_after = _snapshot(scene.api, scene.own)
    foreign_after = _snapshot(scene.foreign_api, scene.foreign)
    changed = [key for key in own_before if own_before[key] != own_after[key]]
    changed += [
        f"foreign {key}" for key in foreign_before if foreign_before[key] != foreign_after[key]
    ]
    assert not changed, f"changed by refused requests: {changed}"


def test_another_teams_configuration_uuid_makes_a_configuration_of_ones_own(
    server: RunningServer, worlds: Worlds
) -> None:
    """Configuration uuids are unique per team: a 409 would tell team B that team A has one
    with that uuid. Team B gets a configuration of its own under the same uuid, and every
    reference to that uuid in team B's project means team B's, never team A's."""
    home, rival = worlds.home, worlds.rival
    with (
        client(server.url, server.token()) as a,
        client(server.url, server.token(server.other)) as b,
    ):
        home_before = _snapshot(a, home)
        made = b.post(
            f"project/{rival.project}/captureconfiguration/",
            json={"name": "rival's own", "uuid": home.configuration, "configuration": {"b": 1}},
        )
        assert made.status_code == 201, made.text
        assert made.json()["uuid"] == home.configuration
        assert made.json()["configuration"] == {"b": 1}
        uploaded = b.post(
            f"project/{rival.project}/capture/",
            data={"name": "rival upload", "capture_configuration_uuid": home.configuration},
            files={"file": ("b.csv", CSV)},
        )
        assert uploaded.status_code == 201, uploaded.text
        ours = b.get(f"project/{rival.project}/captureconfiguration/{home.configuration}/")
        assert ours.json()["name"] == "rival's own"
        theirs = a.get(f"project/{home.project}/captureconfiguration/{home.configuration}/")
        assert theirs.status_code == 200 and theirs.json()["configuration"] == {}
        assert _snapshot(a, home) == home_before
        b.delete(f"project/{rival.project}/capture/{uploaded.json()['uuid']}/")
        b.delete(f"project/{rival.project}/captureconfiguration/{home.configuration}/")
