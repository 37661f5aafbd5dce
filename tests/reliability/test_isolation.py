"""Isolation between teams, over every route the server publishes.

One test walks every operation of ``GET /openapi.json`` (a new route is covered without
touching this file), fills its path with the real ids of team A's objects (project, capture,
label, label value, metadata key and value, metadata relationship, segment, segmenter,
capture configuration) and sends a request that would succeed for team A, with:

* no credentials, a wrong token, a wrong API key, and an expired token of a team A user:
  each must be a 401;
* team B's access token and team B's API key: each must be a 404 (team B cannot even learn
  that the object exists), or a 401.

No answer may be a 2xx or carry team A's data, and afterwards team A's objects are all
unchanged. Routes that are not about one team's objects are listed explicitly: PUBLIC ones
answer anyone; OWN_TEAM ones answer a caller about their own team only.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.reliability.support import client

# Answer without credentials (liveness, the API description, logging in, and revoking a
# token: holding it is the right to revoke it).
PUBLIC = {
    ("GET", "/version/"),
    ("GET", "/healthz/"),
    ("POST", "/oauth/token/"),
    ("POST", "/oauth/revoke_token/"),
}
# Not in openapi.json but served: the API description and its browsable docs.
PUBLIC_DOCUMENTS = ["openapi.json", "docs", "redoc"]
# Authenticated routes about the caller's own team (or about nobody's data): team B gets a
# 2xx there, but with none of team A's data.
OWN_TEAM = {
    ("GET", "/project/"),
    ("POST", "/project/"),
    ("GET", "/team-info/"),
    ("GET", "/transform/"),
    ("GET", "/platforms/v2/"),
}
METHODS = ("get", "post", "put", "patch", "delete")
CSV = b"AccelX,AccelY\n1,2\n3,4\n5,6\n7,8\n"


@dataclass
class TeamA:
    """Team A's objects, by path parameter, and the secrets that must never reach team B."""

    ids: dict[str, str]
    secrets: list[str]  # names and hashes that appear in no URL


def _unique(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def team_a(server: RunningServer) -> Iterator[TeamA]:
    names = {
        k: _unique(k)
        for k in (
            "project",
            "capture",
            "label",
            "value",
            "meta",
            "mvalue",
            "config",
            "segmenter",
            "version",
        )
    }
    with client(server.url, server.token()) as api:

        def ok(response: httpx.Response) -> Any:
            assert response.status_code in (200, 201), response.text
            return response.json()

        p = ok(api.post("project/", json={"name": names["project"]}))["uuid"]
        capture = ok(
            api.post(
                f"project/{p}/capture/",
                data={"name": names["capture"], "asynchronous": "False"},
                files={"file": ("a.csv", CSV)},
            )
        )
        c = capture["uuid"]
        label = ok(
            api.post(
                f"project/{p}/label/", json={"name": names["label"], "values": [names["value"]]}
            )
        )
        meta = ok(
            api.post(
                f"project/{p}/metadata/", json={"name": names["meta"], "values": [names["mvalue"]]}
            )
        )
        relationship = ok(
            api.post(
                f"v2/project/{p}/capture/{c}/metadata-relationship/",
                json={"label": meta["uuid"], "label_value": meta["label_values"][0]["uuid"]},
            )
        )[0]
        segmenter = ok(api.post(f"project/{p}/segmenter/", json={"name": names["segmenter"]}))
        segment = ok(
            api.post(
                f"project/{p}/capture/{c}/label-relationship/",
                json={
                    "label": label["uuid"],
                    "label_value": label["label_values"][0]["uuid"],
                    "capture_sample_sequence_start": 0,
                    "capture_sample_sequence_end": 1,
                    "segmenter": segmenter["id"],
                },
            )
        )[0]
        config = ok(
            api.post(
                f"project/{p}/captureconfiguration/",
                json={"name": names["config"], "configuration": {"secret": names["config"]}},
            )
        )
        version = ok(api.post(f"project/{p}/versions/", json={"name": names["version"]}))
        # A device's name is in its URL (not a secret); its key is the secret.
        device = ok(api.post(f"project/{p}/devices/", json={"name": _unique("device")}))
    ids = {
        "project_uuid": p,
        "capture_uuid": c,
        "label_uuid": label["uuid"],
        "value_uuid": label["label_values"][0]["uuid"],
        "meta_uuid": meta["uuid"],
        "meta_value_uuid": meta["label_values"][0]["uuid"],
        "relationship_uuid": relationship["uuid"],
        "segment_uuid": segment["uuid"],
        "segmenter_id": str(segmenter["id"]),
        "configuration_uuid": config["uuid"],
        "version": version["uuid"],
        "old": version["uuid"],
        "new": version["name"],
        "rest": f"[{names['meta']}]=[{names['mvalue']}]/",
        "name": device["name"],
    }
    secrets = [*names.values(), hashlib.sha256(CSV).hexdigest(), device["key"]]
    yield TeamA(ids, secrets)


def _path(template: str, ids: dict[str, str]) -> str:
    """Fill a route's path; under /metadata/ a label is a metadata key (and its value)."""
    kind_ids = dict(ids)
    if "/metadata/{label_uuid}" in template:
        kind_ids["label_uuid"], kind_ids["value_uuid"] = ids["meta_uuid"], ids["meta_value_uuid"]
    path = template
    for key, value in kind_ids.items():
        path = path.replace("{" + key + "}", value)
    assert "{" not in path, f"no team A object for a parameter of {template}; add it to team_a"
    return path.lstrip("/")


ONE_SEGMENT = "/project/{project_uuid}/capture/{capture_uuid}/label-relationship/{segment_uuid}/"


def _body(method: str, template: str, ids: dict[str, str]) -> dict[str, Any]:
    """A request body that would succeed for team A (so only scoping can refuse it)."""
    if method in ("GET",):
        return {}
    c, label, value = ids["capture_uuid"], ids["label_uuid"], ids["value_uuid"]
    meta, meta_value = ids["meta_uuid"], ids["meta_value_uuid"]
    segment = {
        "label": label,
        "label_value": value,
        "capture_sample_sequence_start": 0,
        "capture_sample_sequence_end": 1,
    }
    if template.endswith("/capture/") and method == "POST":
        return {"data": {"name": _unique("b-upload")}, "files": {"file": ("b.csv", CSV)}}
    if method == "DELETE":
        if template.endswith("metadata-relationship/"):
            return {"json": [ids["relationship_uuid"]]}
        if template.endswith("label-relationship/"):
            return {"json": [ids["segment_uuid"]]}
        return {}
    bodies: dict[str, Any] = {
        "/project/{project_uuid}/": {"name": _unique("taken-over")},
        "/project/{project_uuid}/capture/{capture_uuid}/": {"name": _unique("renamed-by-b")},
        "/project/{project_uuid}/capture-files/": {"capture_uuids": [c]},
        "/project/{project_uuid}/label/": {"name": _unique("b-label")},
        "/project/{project_uuid}/metadata/": {"name": _unique("b-meta")},
        "/project/{project_uuid}/versions/": {"name": _unique("b-version")},
        "/project/{project_uuid}/label/{label_uuid}/": {"name": _unique("b-label")},
        "/project/{project_uuid}/metadata/{label_uuid}/": {"name": _unique("b-meta")},
        "/project/{project_uuid}/label/{label_uuid}/labelvalue/": {"value": _unique("b")},
        "/project/{project_uuid}/metadata/{label_uuid}/labelvalue/": {"value": _unique("b")},
        "/project/{project_uuid}/label/{label_uuid}/labelvalue/{value_uuid}/": {"value": "b"},
        "/project/{project_uuid}/metadata/{label_uuid}/labelvalue/{value_uuid}/": {"value": "b"},
        "/v2/project/{project_uuid}/capture/{capture_uuid}/metadata-relationship/": {
            "label": meta,
            "label_value": meta_value,
        },
        "/v2/project/{project_uuid}/capture/{capture_uuid}/metadata-relationship/"
        "{relationship_uuid}/": {"label_value": meta_value},
        "/project/{project_uuid}/metadata-relationship/": [
            {"capture": c, "label": meta, "label_value": meta_value}
        ],
        "/project/{project_uuid}/capture/{capture_uuid}/label-relationship/": (
            [{"uuid": ids["segment_uuid"], **segment}] if method == "PUT" else segment
        ),
        ONE_SEGMENT: segment,
        "/project/{project_uuid}/label-relationship/": [
            {"capture": c, **segment, **({"uuid": ids["segment_uuid"]} if method == "PUT" else {})}
        ],
        "/v2/project/{project_uuid}/segmenter/{segmenter_id}/label-relationship/": [
            {"capture": c, **segment}
        ],
        "/project/{project_uuid}/segmenter/": {"name": _unique("b-segmenter")},
        "/project/{project_uuid}/captureconfiguration/": {
            "name": _unique("b-config"),
            "configuration": {},
        },
        "/project/{project_uuid}/captureconfiguration/{configuration_uuid}/": {
            "name": _unique("b-config")
        },
        "/project/": {"name": _unique("b-project")},
        "/oauth/token/": None,
        "/project/{project_uuid}/recordings/": {
            "name": _unique("b-recording"),
            "channels": [{"name": "x"}],
            "sample_rate": 10,
        },
        "/project/{project_uuid}/recordings/{capture_uuid}/batches/": {"seq": 0, "values": [[1]]},
        "/project/{project_uuid}/devices/": {"name": _unique("b-device")},
    }
    if template not in bodies:
        return {"json": {}}
    body = bodies[template]
    return {} if body is None else {"json": body}


@pytest.fixture(scope="module")
def operations(server: RunningServer) -> list[tuple[str, str]]:
    schema = httpx.get(server.url + "openapi.json", timeout=30).json()
    found = [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in METHODS
        if method in item
    ]
    assert len(found) > 50, "openapi.json lists suspiciously few operations"
    # Deletions last, the deepest first: were one to succeed, it must not hide later leaks.
    return sorted(found, key=lambda op: (op[0] == "DELETE", -op[1].count("/")))


@dataclass(frozen=True)
class Credential:
    name: str
    bearer: str | None
    team_a_allowed: bool = False  # a valid credential of team B (404 expected, not 401)


@pytest.fixture(scope="module")
def credentials(server: RunningServer) -> list[Credential]:
    expired_user = server.process.create_account(f"expired-{uuid.uuid4().hex[:6]}", server.team)
    expired = server.process.token(expired_user)
    server.expire_tokens(expired_user.username)
    return [
        Credential("no credentials", None),
        Credential("a wrong token", "x" * 43),
        Credential("a wrong API key", "chk_" + "y" * 43),
        Credential("an expired token of team A", expired),
        Credential("team B's token", server.token(server.other), team_a_allowed=True),
        Credential("team B's API key", server.other.api_key, team_a_allowed=True),
    ]


def test_every_route_refuses_strangers_and_other_teams(
    server: RunningServer,
    team_a: TeamA,
    operations: list[tuple[str, str]],
    credentials: list[Credential],
) -> None:
    problems: list[str] = []
    checked = 0
    anonymous = client(server.url)  # one client (creating one costs more than a request)
    for method, template in operations:
        if (method, template) in PUBLIC:
            continue
        path = _path(template, team_a.ids)
        for credential in credentials:
            headers = {"Authorization": f"Bearer {credential.bearer}"} if credential.bearer else {}
            response = anonymous.request(
                method, path, headers=headers, **_body(method, template, team_a.ids)
            )
            checked += 1
            own_team = (method, template) in OWN_TEAM
            if credential.team_a_allowed:
                expected = {200, 201, 401} if own_team else {401, 404}
            else:
                expected = {401}
            where = f"{method} /{path[:90]} with {credential.name}"
            if response.status_code not in expected:
                problems.append(f"{where}: {response.status_code} {response.text[:150]}")
            if response.status_code == 401 and "www-authenticate" not in response.headers:
                problems.append(f"{where}: 401 without WWW-Authenticate")
            leaked = [secret for secret in team_a.secrets if secret in response.text]
            if leaked:
                problems.append(f"{where}: the answer holds team A's {leaked}")
    anonymous.close()
    assert not problems, f"{len(problems)} of {checked} requests:\n" + "\n".join(problems)


def test_team_a_objects_are_untouched(
    server: RunningServer, team_a: TeamA, credentials: list[Credential]
) -> None:
    """After every request of team B and of strangers, team A still has everything as it was."""
    ids = team_a.ids
    p, c = ids["project_uuid"], ids["capture_uuid"]
    with client(server.url, server.token()) as api:
        project = api.get(f"project/{p}/").json()
        assert project["name"] in team_a.secrets
        captures = api.get(f"project/{p}/capture/").json()
        assert next(x["name"] for x in captures if x["uuid"] == c) in team_a.secrets
        assert len(captures) == 1, "an upload of another team landed in team A's project"
        assert hashlib.sha256(api.get(f"project/{p}/capture/{c}/file/").content).hexdigest() in (
            team_a.secrets
        )
        labels = api.get(f"project/{p}/label/").json()
        assert [label["name"] for label in labels] == [n for n in team_a.secrets if "label" in n]
        assert [v["value"] for v in labels[0]["label_values"]] == [
            n for n in team_a.secrets if n.startswith("value-")
        ]
        segments = api.get(f"project/{p}/capture/{c}/label-relationship/").json()
        assert [s["uuid"] for s in segments] == [ids["segment_uuid"]]
        relationships = api.get(f"v2/project/{p}/capture/{c}/metadata-relationship/").json()
        assert [r["uuid"] for r in relationships] == [ids["relationship_uuid"]]
        configurations = api.get(f"project/{p}/captureconfiguration/").json()
        assert [x["name"] for x in configurations] == [n for n in team_a.secrets if "config" in n]
        assert len(api.get(f"project/{p}/segmenter/").json()) == 1
        devices = api.get(f"project/{p}/devices/").json()
        assert [device["name"] for device in devices] == [ids["name"]]


def test_public_routes_are_exactly_the_listed_ones(
    server: RunningServer, operations: list[tuple[str, str]]
) -> None:
    """Without credentials only the PUBLIC routes (and the API documents) answer 2xx."""
    for method, path in PUBLIC:
        assert (method, path) in operations
    with client(server.url) as anonymous:
        assert anonymous.get("version/").status_code == 200
        assert anonymous.get("healthz/").status_code == 200
        for document in PUBLIC_DOCUMENTS:
            assert anonymous.get(document).status_code == 200, document
        login = anonymous.post(
            "oauth/token/",
            data={
                "grant_type": "password",
                "username": server.username,
                "password": "not the password",
            },
        )
        assert login.status_code == 400
        assert "access_token" not in login.text
