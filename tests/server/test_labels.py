"""Labels, metadata keys, their values and capture configurations over HTTP (wire-api §6)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def create(api: httpx.Client, project_uuid: str, kind: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"project/{project_uuid}/{kind}/", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_label_and_metadata_shapes(api: httpx.Client, project: dict[str, Any]) -> None:
    p = project["uuid"]
    exercise = create(api, p, "label", name="Exercise", type="string", values=["PEN", "ABD", "FEL"])
    assert set(exercise) == {
        "uuid",
        "name",
        "type",
        "is_dropdown",
        "metadata",
        "created_at",
        "last_modified",
        "label_values",
    }
    assert exercise["metadata"] is False
    assert exercise["is_dropdown"] is True
    assert [v["value"] for v in exercise["label_values"]] == ["PEN", "ABD", "FEL"]
    colors = [v["color"] for v in exercise["label_values"]]
    assert len(set(colors)) == 3 and all(re.match(r"^#[0-9A-F]{6}$", c) for c in colors)
    assert TIMESTAMP.match(exercise["created_at"])
    assert TIMESTAMP.match(exercise["label_values"][0]["last_modified"])

    subject = create(api, p, "metadata", name="Subject", type="string", is_dropdown=False)
    assert subject["metadata"] is True and subject["label_values"] == []

    # Each kind lists only its own; a uuid of the other kind is a 404 under this kind's URL.
    labels = api.get(f"project/{p}/label/").json()
    metadata = api.get(f"project/{p}/metadata/").json()
    assert [x["name"] for x in labels] == ["Exercise"]
    assert [x["name"] for x in metadata] == ["Subject"]
    assert api.get(f"project/{p}/label/{subject['uuid']}/").status_code == 404
    assert api.get(f"project/{p}/metadata/{subject['uuid']}").json()["name"] == "Subject"


def test_names_are_unique_across_labels_and_metadata(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    create(api, p, "label", name="Activity", type="string")
    response = api.post(f"project/{p}/metadata/", json={"name": "Activity", "type": "string"})
    assert response.status_code == 409
    assert "already has a label named 'Activity'" in response.json()["detail"]
    assert api.post(f"project/{p}/label/", json={"name": "Activity"}).status_code == 409
    # Renaming onto a taken name is refused as well.
    other = create(api, p, "metadata", name="Place", type="string")
    response = api.patch(f"project/{p}/metadata/{other['uuid']}/", json={"name": "Activity"})
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "Age", "type": "number"}, "type must be one of string, integer, float"),
        ({"name": "Age", "type": "integer", "values": ["30", "old"]}, "'old' is not a whole"),
        ({"name": "Age", "type": "float", "values": ["nan"]}, "not a finite number"),
        ({"name": "", "type": "string"}, "cannot be empty"),
        ({"name": "Age", "type": "integer", "values": ["30", "030"]}, "listed twice"),
    ],
)
def test_bad_label_bodies_are_400s(
    api: httpx.Client, project: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    response = api.post(f"project/{project['uuid']}/metadata/", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


def test_typed_values(api: httpx.Client, project: dict[str, Any]) -> None:
    p = project["uuid"]
    age = create(api, p, "metadata", name="Age", type="integer", values=["030", 41, "+7"])
    assert [v["value"] for v in age["label_values"]] == ["30", "41", "7"]
    weight = create(api, p, "metadata", name="Weight", type="float", values=["71.50", 80])
    assert [v["value"] for v in weight["label_values"]] == ["71.50", "80"]
    values_url = f"project/{p}/metadata/{age['uuid']}/labelvalue/"
    response = api.post(values_url, json={"value": "thirty"})
    assert response.status_code == 400
    assert response.json()["detail"] == "'Age' holds integers; 'thirty' is not a whole number."
    assert api.post(values_url, json={"value": "30"}).status_code == 409
    # Retyping checks every value.
    name = create(api, p, "metadata", name="Room", type="string", values=["12", "B4"])
    response = api.patch(f"project/{p}/metadata/{name['uuid']}/", json={"type": "integer"})
    assert response.status_code == 400
    assert "'B4'" in response.json()["detail"]
    response = api.patch(f"project/{p}/metadata/{weight['uuid']}/", json={"type": "string"})
    assert response.status_code == 200 and response.json()["type"] == "string"


def test_value_routes(api: httpx.Client, project: dict[str, Any]) -> None:
    p = project["uuid"]
    label = create(api, p, "label", name="Gesture", type="string", values=["wave"])
    base = f"project/{p}/label/{label['uuid']}/labelvalue/"
    created = api.post(base, json={"value": "punch", "color": "#ff000080"})
    assert created.status_code == 201, created.text
    punch = created.json()
    assert punch["color"] == "#FF000080"
    assert set(punch) == {"uuid", "value", "color", "created_at", "last_modified"}
    bad = api.post(base, json={"value": "kick", "color": "red"})
    assert bad.status_code == 400
    assert "#RRGGBB" in bad.json()["detail"]
    assert [v["value"] for v in api.get(base).json()] == ["wave", "punch"]
    # The SensiML SDK calls the single-value routes without the trailing slash.
    one = f"project/{p}/label/{label['uuid']}/labelvalue/{punch['uuid']}"
    assert api.get(one).json()["value"] == "punch"
    changed = api.put(one, json={"value": "jab", "color": "#00FF00"})
    assert changed.status_code == 200
    assert (changed.json()["value"], changed.json()["color"]) == ("jab", "#00FF00")
    assert api.patch(one, json={"value": "wave"}).status_code == 409
    assert api.delete(one).status_code == 204
    assert api.get(one).status_code == 404
    assert [v["value"] for v in api.get(base).json()] == ["wave"]
    # PUT on the label adds values and ignores the read-only fields a client echoes back.
    echoed = dict(api.get(f"project/{p}/label/{label['uuid']}/").json(), values=["wave", "clap"])
    updated = api.put(f"project/{p}/label/{label['uuid']}/", json=echoed)
    assert [v["value"] for v in updated.json()["label_values"]] == ["wave", "clap"]
    assert api.delete(f"project/{p}/label/{label['uuid']}/").status_code == 204
    assert api.get(f"project/{p}/label/").json() == []


def test_capture_configurations(api: httpx.Client, project: dict[str, Any]) -> None:
    p = project["uuid"]
    chosen = str(uuid.uuid4())
    body = {"name": "wrist IMU", "configuration": {"sensors": ["accel", "gyro"]}, "uuid": chosen}
    created = api.post(f"project/{p}/captureconfiguration/", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["uuid"] == chosen
    assert set(created.json()) == {"uuid", "name", "configuration", "created_at", "last_modified"}
    assert api.post(f"project/{p}/captureconfiguration/", json=body).status_code == 409
    bad = api.post(f"project/{p}/captureconfiguration/", json={"name": "x", "uuid": "nope"})
    assert bad.status_code == 400 and "must be a UUID" in bad.json()["detail"]
    generated = api.post(f"project/{p}/captureconfiguration/", json={"name": "chest"}).json()
    assert uuid.UUID(generated["uuid"]) and generated["configuration"] == {}
    one = f"project/{p}/captureconfiguration/{chosen}/"
    patched = api.patch(one, json={"configuration": {"sensors": ["accel"]}}).json()
    assert patched["configuration"] == {"sensors": ["accel"]} and patched["name"] == "wrist IMU"
    names = [c["name"] for c in api.get(f"project/{p}/captureconfiguration/").json()]
    assert names == ["wrist IMU", "chest"]
    assert api.delete(one).status_code == 204
    assert api.get(one).status_code == 404


def test_another_team_sees_none_of_it(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    label = create(api, p, "label", name="Exercise", type="string", values=["PEN"])
    key = create(api, p, "metadata", name="Subject", type="string", values=["S01"])
    value = label["label_values"][0]["uuid"]
    configuration = api.post(f"project/{p}/captureconfiguration/", json={"name": "c"}).json()
    segmenter = api.post(f"project/{p}/segmenter/", json={"name": "manual"}).json()
    c = str(uuid.uuid4())
    any_uuid = str(uuid.uuid4())
    routes = [
        ("GET", f"project/{p}/label/"),
        ("POST", f"project/{p}/label/"),
        ("GET", f"project/{p}/metadata/"),
        ("GET", f"project/{p}/label/{label['uuid']}/"),
        ("PUT", f"project/{p}/label/{label['uuid']}/"),
        ("PATCH", f"project/{p}/metadata/{key['uuid']}/"),
        ("DELETE", f"project/{p}/label/{label['uuid']}/"),
        ("GET", f"project/{p}/label/{label['uuid']}/labelvalue/"),
        ("POST", f"project/{p}/label/{label['uuid']}/labelvalue/"),
        ("GET", f"project/{p}/label/{label['uuid']}/labelvalue/{value}"),
        ("PUT", f"project/{p}/label/{label['uuid']}/labelvalue/{value}"),
        ("DELETE", f"project/{p}/label/{label['uuid']}/labelvalue/{value}"),
        ("GET", f"project/{p}/captureconfiguration/"),
        ("POST", f"project/{p}/captureconfiguration/"),
        ("GET", f"project/{p}/captureconfiguration/{configuration['uuid']}/"),
        ("PATCH", f"project/{p}/captureconfiguration/{configuration['uuid']}/"),
        ("DELETE", f"project/{p}/captureconfiguration/{configuration['uuid']}/"),
        ("GET", f"v2/project/{p}/capture/{c}/metadata-relationship/"),
        ("POST", f"v2/project/{p}/capture/{c}/metadata-relationship/"),
        ("PUT", f"v2/project/{p}/capture/{c}/metadata-relationship/"),
        ("GET", f"v2/project/{p}/capture/{c}/metadata-relationship/{any_uuid}/"),
        ("PATCH", f"v2/project/{p}/capture/{c}/metadata-relationship/{any_uuid}/"),
        ("DELETE", f"v2/project/{p}/capture/{c}/metadata-relationship/{any_uuid}/"),
        ("GET", f"project/{p}/capture/{c}/label-relationship/"),
        ("POST", f"project/{p}/capture/{c}/label-relationship/"),
        ("PUT", f"project/{p}/capture/{c}/label-relationship/"),
        ("GET", f"project/{p}/capture/{c}/label-relationship/{any_uuid}/"),
        ("PUT", f"project/{p}/capture/{c}/label-relationship/{any_uuid}/"),
        ("DELETE", f"project/{p}/capture/{c}/label-relationship/{any_uuid}/"),
        ("GET", f"project/{p}/metadata-relationship/"),
        ("POST", f"project/{p}/metadata-relationship/"),
        ("GET", f"project/{p}/label-relationship/"),
        ("GET", f"project/{p}/segmenter/"),
        ("GET", f"project/{p}/segmenter/{segmenter['id']}/"),
        ("GET", f"v2/project/{p}/segmenter/{segmenter['id']}/label-relationship/"),
        ("POST", f"v2/project/{p}/segmenter/{segmenter['id']}/label-relationship/"),
        ("GET", f"project/{p}/capture/metadata/[Subject]=[S01]/"),
        ("GET", f"project/{p}/capture/?metadata.Subject=S01"),
        ("GET", f"project/{p}/statistics/"),
        ("GET", f"project/{p}/summary/"),
    ]
    bodies = {"POST": {"name": "x", "value": "x"}, "PUT": {"name": "x"}, "PATCH": {"name": "x"}}
    with server.http(server.other) as rival:
        for method, url in routes:
            response = rival.request(method, url, json=bodies.get(method))
            assert response.status_code == 404, (method, url, response.text)
            assert response.json()["detail"] == f"Project {p} not found.", (method, url)
    # Nothing changed.
    assert [x["name"] for x in api.get(f"project/{p}/label/").json()] == ["Exercise"]
    assert len(api.get(f"project/{p}/captureconfiguration/").json()) == 1


def test_capture_configuration_uuids_are_scoped_to_the_team(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    """Another team's uuid is not a 409 (that told a team the uuid existed elsewhere and let it
    take a uuid first): both teams create the same uuid, and each sees its own."""
    chosen = str(uuid.uuid4())
    ours = f"project/{project['uuid']}/captureconfiguration/"
    assert api.post(ours, json={"name": "ours", "uuid": chosen}).status_code == 201
    with server.http(server.other) as rival:
        theirs_project = rival.post("project/", json={"name": f"p-{uuid.uuid4().hex[:8]}"})
        theirs = f"project/{theirs_project.json()['uuid']}/captureconfiguration/"
        created = rival.post(theirs, json={"name": "theirs", "uuid": chosen})
        assert created.status_code == 201, created.text
        assert rival.get(f"{theirs}{chosen}/").json()["name"] == "theirs"
        assert [c["name"] for c in rival.get(theirs).json()] == ["theirs"]
    assert api.get(f"{ours}{chosen}/").json()["name"] == "ours"
    assert [c["name"] for c in api.get(ours).json()] == ["ours"]
    # Within one team the uuid stays unique, across its projects too.
    second = api.post("project/", json={"name": f"p-{uuid.uuid4().hex[:8]}"}).json()
    again = api.post(
        f"project/{second['uuid']}/captureconfiguration/", json={"name": "x", "uuid": chosen}
    )
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
