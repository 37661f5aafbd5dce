"""The OpenAPI document says what the server does (capturehub/server/openapi.py), and a 405's
``Allow`` names every method of the path (capturehub/server/allow.py).

Every declaration is checked twice: in the fetched ``/openapi.json``, and against a real
request to a running server, so that the document cannot drift from the behaviour unnoticed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openapi_spec_validator
import pytest

from capturehub.ingest import formats as file_formats
from capturehub.server.auth.throttle import USER_FREE_FAILURES as MAX_FAILED_LOGINS
from capturehub.server.captures.query import ORDERINGS
from capturehub.server.captures.schemas import TASK_STATES
from capturehub.server.listing import MAX_PAGE_SIZE as MAX_LIMIT
from capturehub.server.settings import Settings
from tests.conftest import RunningServer
from tests.server.conftest import UPLOAD_LIMIT
from tests.servers import Account, ServerProcess, stranger_address

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ERROR_REF = {"$ref": "#/components/schemas/Error"}
CAPTURE_LIST = "/project/{project_uuid}/capture/"
TOKEN = "/oauth/token/"
CSV = b"AccelX,AccelY\n1,2\n3,4\n5,6\n"


@pytest.fixture
def document(server: RunningServer) -> dict[str, Any]:
    response = httpx.get(server.url + "openapi.json", timeout=30)
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def path_parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in operation.get("parameters", []) if p["in"] == "path"]


def concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with every parameter replaced by a value no object has (relative URL)."""
    for parameter in path_parameters(operation):
        name = parameter["name"]
        if name == "rest":  # the metadata query route: a well-formed [key]=[value]
            value = "[key]=[value]"
        elif parameter["schema"].get("type") == "integer":
            value = str(2**31 - 7)
        else:
            value = str(uuid.uuid4())
        path = path.replace("{" + name + "}", value)
    return path.lstrip("/")


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The one error shape (capturehub/server/errors.py), as declared in ``Error``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    if "data" in body:
        assert isinstance(body["data"], dict)
        for messages in body["data"].values():
            assert isinstance(messages, list)
            assert all(isinstance(message, str) for message in messages)
    return body


def declared(operation: dict[str, Any], status: int) -> dict[str, Any]:
    """The declared error response, which must have the error shape."""
    response: dict[str, Any] = operation["responses"][str(status)]
    assert response["description"]
    schema = response["content"]["application/json"]["schema"]
    assert schema == ERROR_REF or ERROR_REF in schema.get("anyOf", []), schema
    return response


def _minimal(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """The smallest JSON value the schema accepts (required fields only)."""
    if "$ref" in schema:
        return _minimal(components[schema["$ref"].rsplit("/", 1)[1]], components)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            first = next(s for s in schema[key] if s.get("type") != "null")
            return _minimal(first, components)
    kind = schema.get("type", "")  # "": no type given, so none of the simple values below
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: _minimal(properties[name], components) for name in schema.get("required", [])}
    return {"array": [], "string": "x", "integer": 1, "number": 1, "boolean": True}.get(kind, {})


# Routes whose body is declared as any JSON but whose shape is checked before the project is
# looked up: the body that gets past that check.
VALID_BODIES: dict[tuple[str, str], Any] = {
    ("post", "/project/{project_uuid}/capture-files/"): {"capture_uuids": []},
    ("post", "/project/{project_uuid}/recordings/"): {
        "name": "r.csv",
        "channels": [{"name": "x"}],
        "sample_rate": 10,
    },
    ("post", "/project/{project_uuid}/recordings/{capture_uuid}/batches/"): {
        "seq": 0,
        "values": [[1]],
    },
}


def passing_body(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """httpx keyword arguments for a body that passes validation (for routes that take one)."""
    if (method, path) in VALID_BODIES:
        return {"json": VALID_BODIES[method, path]}
    operation = document["paths"][path][method]
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return {}
    schema = content["application/json"]["schema"]
    return {"json": _minimal(schema, document["components"]["schemas"])}


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    openapi_spec_validator.validate(document)


def test_no_operation_declares_422(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        assert "422" not in operation["responses"], (method, path)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


def test_every_operation_declares_400_and_gets_it(
    server: RunningServer, document: dict[str, Any], api: httpx.Client
) -> None:
    for _path, _method, operation in operations(document):
        declared(operation, 400)
    # Validation errors are 400s (FastAPI's would be 422s), with `data` naming the field.
    body = assert_error(api.post("project/", json={"nom": "x"}), 400)
    assert "name" in body["data"]
    # The request guard answers 400 on any route, even one without parameters.
    assert_error(httpx.get(server.url + "version/?q=%00"), 400)


def test_the_token_route_declares_oauth_errors_and_429(
    server: RunningServer, document: dict[str, Any]
) -> None:
    token = document["paths"][TOKEN]["post"]
    schema = declared(token, 400)["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/OAuthError"} in schema["anyOf"]
    declared(token, 429)
    assert "Retry-After" in token["responses"]["429"]["headers"]
    assert "401" not in token["responses"]

    refused = httpx.post(server.url + "oauth/token/", data={"grant_type": "magic"})
    body = assert_error(refused, 400)
    assert body["error"] == "unsupported_grant_type"
    assert body["error_description"] == body["detail"]
    # A missing form field is a validation error: the plain error shape.
    assert_error(httpx.post(server.url + "oauth/token/", data={}), 400)

    username = f"nobody-{uuid.uuid4().hex[:8]}"
    address = stranger_address()
    for _ in range(MAX_FAILED_LOGINS):
        failed = httpx.post(
            server.url + "oauth/token/",
            data={"grant_type": "password", "username": username, "password": "wrong"},
            headers=address,
        )
        assert assert_error(failed, 400)["error"] == "invalid_grant"
    limited = httpx.post(
        server.url + "oauth/token/",
        data={"grant_type": "password", "username": username, "password": "wrong"},
        headers=address,
    )
    assert_error(limited, 429)
    assert int(limited.headers["retry-after"]) > 0
    # Only the token route is rate-limited.
    others = [(p, m) for p, m, o in operations(document) if "429" in o["responses"]]
    assert others == [(TOKEN, "post")]


def test_401_is_declared_exactly_where_the_bearer_token_is_required(
    server: RunningServer, document: dict[str, Any]
) -> None:
    secured = {
        (path, method)
        for path, method, operation in operations(document)
        if operation.get("security")
    }
    declaring = {
        (path, method)
        for path, method, operation in operations(document)
        if "401" in operation["responses"]
    }
    assert secured == declaring
    assert len(secured) > 50
    # A new public route should be a deliberate choice: it fails here until it is listed.
    public = {(p, m) for p, m, _ in operations(document)} - secured
    assert public == {
        ("/version/", "get"),
        ("/healthz/", "get"),
        (TOKEN, "post"),
        ("/oauth/revoke_token/", "post"),
    }
    for path, method in secured:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"HTTPBearer": []}]
        declared(operation, 401)
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]

    # Every secured operation, with no credentials: 401 (before any body validation or
    # lookup), so every router/tag is covered. One per tag also with a wrong token.
    tags_tried: set[str] = set()
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        for path, method in sorted(secured):
            operation = document["paths"][path][method]
            url = concrete(path, operation)
            response = anonymous.request(method.upper(), url)
            assert_error(response, 401)
            assert response.headers["www-authenticate"] == "Bearer", (method, path)
            tag = operation["tags"][0]
            if tag not in tags_tried:
                tags_tried.add(tag)
                wrong = anonymous.request(
                    method.upper(), url, headers={"Authorization": "Bearer not-a-token"}
                )
                assert_error(wrong, 401)
    assert len(tags_tried) >= 8
    # The public routes answer without credentials.
    assert httpx.get(server.url + "version/").status_code == 200
    assert httpx.get(server.url + "healthz/").status_code == 200


def test_404_is_declared_with_path_parameters_and_answered_for_unknown_ids(
    document: dict[str, Any], api: httpx.Client
) -> None:
    tried = 0
    for path, method, operation in operations(document):
        if not path_parameters(operation):
            assert "404" not in operation["responses"], (method, path)
            continue
        declared(operation, 404)
        response = api.request(
            method.upper(), concrete(path, operation), **passing_body(document, path, method)
        )
        assert_error(response, 404)
        tried += 1
    assert tried > 60


def test_404_for_an_unknown_object_in_a_real_project(
    api: httpx.Client, project: dict[str, Any]
) -> None:
    base = f"project/{project['uuid']}/"
    for path in ("capture/", "label/", "metadata/", "captureconfiguration/"):
        assert_error(api.get(f"{base}{path}{uuid.uuid4()}/"), 404)
    assert_error(api.get(f"{base}segmenter/{2**31 - 7}/"), 404)


def test_the_capture_list_declares_its_query_parameters(document: dict[str, Any]) -> None:
    operation = document["paths"][CAPTURE_LIST]["get"]
    query = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert set(query) == {
        "name",
        "name__contains",
        "task_state",
        "format",
        "ordering",
        "limit",
        "offset",
        "after",
        "count",
    }
    assert all(not p["required"] for p in query.values())
    assert query["name"]["schema"]["type"] == "string"
    assert query["name__contains"]["schema"]["type"] == "string"
    task_state = query["task_state"]
    assert (task_state["style"], task_state["explode"]) == ("form", False)  # comma-separated
    assert task_state["schema"]["items"]["enum"] == list(TASK_STATES)
    assert query["format"]["schema"]["enum"] == list(file_formats.suffixes())
    orderings = query["ordering"]["schema"]["enum"]
    assert set(orderings) == set(ORDERINGS) | {f"-{name}" for name in ORDERINGS}
    assert query["limit"]["schema"]["type"] == "integer"
    assert query["limit"]["schema"]["maximum"] == MAX_LIMIT
    assert query["offset"]["schema"]["type"] == "integer"
    description = operation["description"]
    for text in ("metadata.<key>=<value>", "__in", "__gte", "__exists"):
        assert text in description


def test_the_capture_list_accepts_what_it_declares(
    document: dict[str, Any], api: httpx.Client, project: dict[str, Any]
) -> None:
    operation = document["paths"][CAPTURE_LIST]["get"]
    query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    url = f"project/{project['uuid']}/capture/"
    uploaded = api.post(
        url, data={"name": "one.csv", "asynchronous": "False"}, files={"file": ("one.csv", CSV)}
    )
    assert uploaded.status_code == 201, uploaded.text

    def names(**params: Any) -> list[str]:
        response = api.get(url, params=params)
        assert response.status_code == 200, (params, response.text)
        return [capture["name"] for capture in response.json()]

    assert names(name="one.csv") == ["one.csv"]
    assert names(name="one") == []
    assert names(name__contains="ne.c") == ["one.csv"]
    for state in query["task_state"]["items"]["enum"]:
        assert names(task_state=state) == (["one.csv"] if state == "SUCCESS" else [])
    assert names(task_state=",".join(TASK_STATES)) == ["one.csv"]
    for fmt in query["format"]["enum"]:
        assert names(format=fmt) == (["one.csv"] if fmt == ".csv" else [])
    for ordering in query["ordering"]["enum"]:
        assert names(ordering=ordering) == ["one.csv"]
    page = api.get(url, params={"limit": 1, "offset": 0}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 1
    # Values outside what is declared are 400s of the error shape.
    for params in (
        {"task_state": "DONE"},
        {"format": ".mp3"},
        {"ordering": "size"},
        {"limit": -1},
        {"limit": query["limit"]["maximum"] + 1},
        {"offset": "x"},
        {"metadata.NoSuchKey": "1"},
    ):
        assert_error(api.get(url, params=params), 400)


RELATIONSHIP_LISTS = [
    "/v2/project/{project_uuid}/capture/{capture_uuid}/metadata-relationship/",
    "/project/{project_uuid}/metadata-relationship/",
    "/project/{project_uuid}/capture/{capture_uuid}/label-relationship/",
    "/project/{project_uuid}/label-relationship/",
    "/v2/project/{project_uuid}/segmenter/{segmenter_id}/label-relationship/",
]


def test_the_relationship_lists_declare_their_paging_and_page_with_it(
    document: dict[str, Any], api: httpx.Client, project: dict[str, Any]
) -> None:
    for path in RELATIONSHIP_LISTS:
        operation = document["paths"][path]["get"]
        query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
        assert set(query) == {"page_size", "page", "limit", "offset"}, path
    p = project["uuid"]
    uploaded = api.post(
        f"project/{p}/capture/",
        data={"name": "one.csv", "asynchronous": "False"},
        files={"file": ("one.csv", CSV)},
    )
    assert uploaded.status_code == 201, uploaded.text
    api.post(f"project/{p}/metadata/", json={"name": "Subject", "values": ["S1"]})
    tagged = api.post(
        f"project/{p}/metadata-relationship/",
        json=[{"capture": uploaded.json()["uuid"], "label": "Subject", "label_value": "S1"}],
    )
    assert tagged.status_code < 300, tagged.text
    url = f"project/{p}/metadata-relationship/"
    for params in ({"page_size": 1, "page": 1}, {"limit": 1, "offset": 0}):
        page = api.get(url, params=params).json()
        assert (page["count"], len(page["results"])) == (1, 1)
    assert api.get(url, params={"page": 2, "page_size": 1}).json()["results"] == []
    for name, schema in query.items():  # one below each declared minimum
        assert_error(api.get(url, params={name: schema["minimum"] - 1}), 400)


def test_405_allow_lists_every_method_of_the_path(
    server: RunningServer, document: dict[str, Any]
) -> None:
    """For every path of the document, a method it does not serve answers 405 with an
    ``Allow`` of exactly the methods the document lists for it."""
    tried = 0
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        for path, item in document["paths"].items():
            served = {method.upper() for method in item if method in METHODS}
            missing = [m for m in ("DELETE", "POST", "PUT", "PATCH", "GET") if m not in served]
            if not missing:
                continue
            operation = next(item[m] for m in item if m in METHODS)
            response = anonymous.request(missing[0], concrete(path, operation))
            assert_error(response, 405)
            allowed = {m.strip() for m in response.headers["allow"].split(",")}
            assert allowed == served, (path, response.headers["allow"])
            tried += 1
    assert tried > 20
    # The examples of the bug: one method was listed, the first route's.
    assert httpx.delete(server.url + "project/").headers["allow"] == "GET, POST"
    capture = f"project/{uuid.uuid4()}/capture/{uuid.uuid4()}/"
    assert httpx.post(server.url + capture).headers["allow"] == "GET, PUT, PATCH, DELETE"
    assert httpx.post(server.url + "version/").headers["allow"] == "GET"
    # Starlette's own routes (not in the document) serve HEAD too, and say so.
    assert httpx.post(server.url + "openapi.json").headers["allow"] == "GET, HEAD"


# The operations that can answer 409, by family of paths (from the services' ``Conflict``s:
# grep ``Conflict(`` in capturehub/server/*/); each route declares its 409 itself.
_LABEL = r"^/project/\{project_uuid\}/(label|metadata)/"
CONFLICTS: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = tuple(
    (frozenset(methods.split()), re.compile(path))
    for methods, path in (
        ("post put patch", r"^/project/(\{project_uuid\}/)?$"),
        ("post put patch", _LABEL + r"(\{label_uuid\}/)?$"),
        ("post put patch", _LABEL + r"\{label_uuid\}/labelvalue/(\{value_uuid\}/)?$"),
        ("post put patch", r"^/project/\{project_uuid\}/capture/(\{capture_uuid\}/)?$"),
        ("post", r"^/project/\{project_uuid\}/captureconfiguration/$"),
        (
            "post put patch",
            r"^(/v2/project/\{project_uuid\}/capture/\{capture_uuid\}|/project/\{project_uuid\})"
            r"/metadata-relationship/",
        ),
        (
            "post put patch",
            r"^(/project/\{project_uuid\}/capture/\{capture_uuid\}|/project/\{project_uuid\}"
            r"|/v2/project/\{project_uuid\}/segmenter/\{segmenter_id\})/label-relationship/",
        ),
    )
)


def test_every_conflict_rule_names_operations(document: dict[str, Any]) -> None:
    for methods, path_pattern in CONFLICTS:
        matched = [
            (path, method)
            for path, method, _ in operations(document)
            if method in methods and path_pattern.search(path)
        ]
        assert matched, path_pattern
        for path, method in matched:
            assert declared(document["paths"][path][method], 409)["description"]


def test_409_where_declared(
    document: dict[str, Any], api: httpx.Client, project: dict[str, Any]
) -> None:
    p = project["uuid"]
    paths = document["paths"]

    def conflict(response: httpx.Response, path: str, method: str) -> None:
        assert_error(response, 409)
        declared(paths[path][method], 409)

    conflict(api.post("project/", json={"name": project["name"]}), "/project/", "post")
    other = api.post("project/", json={"name": f"other-{uuid.uuid4().hex[:8]}"}).json()
    conflict(
        api.patch(f"project/{other['uuid']}/", json={"name": project["name"]}),
        "/project/{project_uuid}/",
        "patch",
    )
    label = api.post(f"project/{p}/label/", json={"name": "Activity", "values": ["walk"]})
    assert label.status_code == 201, label.text
    conflict(
        api.post(f"project/{p}/metadata/", json={"name": "Activity"}),
        "/project/{project_uuid}/metadata/",
        "post",
    )
    conflict(
        api.post(f"project/{p}/label/{label.json()['uuid']}/labelvalue/", json={"value": "walk"}),
        "/project/{project_uuid}/label/{label_uuid}/labelvalue/",
        "post",
    )
    chosen = str(uuid.uuid4())
    first = api.post(f"project/{p}/captureconfiguration/", json={"name": "c", "uuid": chosen})
    assert first.status_code == 201, first.text
    conflict(
        api.post(f"project/{p}/captureconfiguration/", json={"name": "c", "uuid": chosen}),
        "/project/{project_uuid}/captureconfiguration/",
        "post",
    )

    def upload() -> httpx.Response:
        return api.post(
            f"project/{p}/capture/", data={"name": "same.csv"}, files={"file": ("same.csv", CSV)}
        )

    assert upload().status_code == 201
    conflict(upload(), CAPTURE_LIST, "post")


@pytest.fixture
def small_server(limited_server: ServerProcess) -> tuple[ServerProcess, Account]:
    return limited_server, limited_server.create_account(
        f"openapi-{uuid.uuid4().hex[:8]}", f"lab-{uuid.uuid4().hex[:8]}"
    )


def test_413_where_declared(small_server: tuple[ServerProcess, Account]) -> None:
    process, account = small_server
    document = httpx.get(process.url + "openapi.json").json()
    paths = document["paths"]
    # The routes that take a file declare the upload limit; routes that take JSON the guard's.
    takes_file = {
        (path, method)
        for path, method, operation in operations(document)
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
    }
    assert takes_file == {
        (CAPTURE_LIST, "post"),
        ("/project/{project_uuid}/capture/{capture_uuid}/", "put"),
        ("/project/{project_uuid}/capture/{capture_uuid}/", "patch"),
    }
    for path, method, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        if (path, method) in takes_file:
            assert "CAPTUREHUB_MAX_UPLOAD_BYTES" in declared(operation, 413)["description"]
        if "application/json" in content:
            assert "JSON body" in declared(operation, 413)["description"]
        if not content:
            assert "413" not in operation["responses"], (method, path)

    with process.http(account) as api:
        p = api.post("project/", json={"name": "limits"}).json()["uuid"]
        big = CSV + b"7,8\n" * UPLOAD_LIMIT
        too_big = api.post(
            f"project/{p}/capture/", data={"name": "big.csv"}, files={"file": ("big.csv", big)}
        )
        assert_error(too_big, 413)
        assert "413" in paths[CAPTURE_LIST]["post"]["responses"]
        small = api.post(
            f"project/{p}/capture/", data={"name": "small.csv"}, files={"file": ("s.csv", CSV)}
        )
        assert small.status_code == 201, small.text
        replaced = api.patch(
            f"project/{p}/capture/{small.json()['uuid']}/", files={"file": ("big.csv", big)}
        )
        assert_error(replaced, 413)
        # The cap on JSON bodies, on a route that takes JSON.
        huge = api.post(
            "project/",
            content=b" " * (Settings.model_fields["max_request_body_bytes"].default + 1),
            headers={"Content-Type": "application/json"},
        )
        assert_error(huge, 413)
        assert re.search(r"\d+ MiB", paths["/project/"]["post"]["responses"]["413"]["description"])
