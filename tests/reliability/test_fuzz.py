"""Schema-driven fuzzing of every route with schemathesis, authenticated as team A.

For every operation of ``/openapi.json`` schemathesis generates requests (valid and invalid
per the schema); most of them are pointed at team A's real objects (their path parameters
replaced by real ids) so that they reach past the project lookup. Each answer must:

* never be a 5xx (``not_a_server_error``);
* have a status code the operation declares (``status_code_conformance``: the document
  declares 400, 401, 404, 409, 413 and 429 where the server answers them, see
  capturehub/server/openapi.py);
* have the declared content type and, where the schema declares a response body, match it
  (``content_type_conformance``, ``response_schema_conformance``; error answers are checked
  against the declared ``Error`` schema; success bodies are still untyped objects or lists);
* be JSON of the wire-API error shape ``{"status": <code>, "detail": "<text>"}`` when it is an
  error (checked here as well).

Not checked, because the request schemas are too loose for them to mean anything (see
docs/security.md): ``positive_data_acceptance`` (many bodies are declared as "any JSON" while
the routes then require fields) and ``negative_data_rejection``.

Examples per operation: 5 in CI, 50 with CAPTUREHUB_FULL_RELIABILITY=1.

Generated ids rarely hit the odd cases, so :func:`test_malformed_ids_in_every_path_parameter`
adds them deterministically: every malformed id of :data:`MALFORMED_IDS` in every path
parameter of every operation (the others real), each answered 400 or 404 in the error shape.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

# schemathesis is a dev dependency: a plain import, so that a missing install fails, not skips.
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import RunningServer
from tests.reliability.support import FULL, client
from tests.server.test_openapi import passing_body
from tests.servers import stranger_address

MAX_EXAMPLES = 50 if FULL else 5
FUZZ_ADDRESS = stranger_address()
CSV = b"AccelX,AccelY\n1,2\n3,4\n5,6\n"


@pytest.fixture(scope="module")
def fuzz_ids(server: RunningServer) -> dict[str, str]:
    """Team A's objects, so that generated requests can reach them."""
    with client(server.url, server.token()) as api:
        p = api.post("project/", json={"name": f"fuzz {uuid.uuid4().hex[:8]}"}).json()["uuid"]
        c = api.post(
            f"project/{p}/capture/",
            data={"name": "fuzz.csv", "asynchronous": "False"},
            files={"file": ("fuzz.csv", CSV)},
        ).json()["uuid"]
        label = api.post(f"project/{p}/label/", json={"name": "L", "values": ["a"]}).json()
        meta = api.post(f"project/{p}/metadata/", json={"name": "M", "values": ["m"]}).json()
        rel = api.post(
            f"v2/project/{p}/capture/{c}/metadata-relationship/",
            json={"label": meta["uuid"], "label_value": meta["label_values"][0]["uuid"]},
        ).json()[0]
        seg = api.post(
            f"project/{p}/capture/{c}/label-relationship/",
            json={
                "label": label["uuid"],
                "label_value": label["label_values"][0]["uuid"],
                "capture_sample_sequence_start": 0,
                "capture_sample_sequence_end": 1,
            },
        ).json()[0]
        segmenter = api.post(f"project/{p}/segmenter/", json={"name": "S"}).json()
        config = api.post(f"project/{p}/captureconfiguration/", json={"name": "C"}).json()
        version = api.post(f"project/{p}/versions/", json={"name": "V"}).json()
        # Device names are unique on the server (they are MQTT topic levels).
        device = api.post(
            f"project/{p}/devices/", json={"name": f"fuzz-{uuid.uuid4().hex[:8]}"}
        ).json()
    return {
        "project_uuid": p,
        "capture_uuid": c,
        "label_uuid": label["uuid"],
        "value_uuid": label["label_values"][0]["uuid"],
        "relationship_uuid": rel["uuid"],
        "segment_uuid": seg["uuid"],
        "segmenter_id": str(segmenter["id"]),
        "configuration_uuid": config["uuid"],
        "meta_uuid": meta["uuid"],
        "meta_value_uuid": meta["label_values"][0]["uuid"],
        "version": version["uuid"],
        "old": version["uuid"],
        "new": version["name"],
        "rest": "[M]=[m]/",
        "name": device["name"],
    }


def _aim_at_real_objects(case: Any, ids: dict[str, str]) -> None:
    """Point most cases at team A's objects, each parameter on its own (deterministically, from
    the case itself): the project is real in 3 cases of 4, each deeper id in 1 of 2, so that
    generated ids get fuzzed inside a real project too."""
    if not case.path_parameters:
        return
    seed = hashlib.sha256(repr((case.body, case.query, case.path_parameters)).encode()).digest()
    real = dict(ids)
    if "/metadata/{label_uuid}" in case.operation.path:  # there a label is a metadata key
        real["label_uuid"], real["value_uuid"] = ids["meta_uuid"], ids["meta_value_uuid"]
    for index, name in enumerate(sorted(case.path_parameters)):
        threshold = 64 if name == "project_uuid" else 128
        if name in real and seed[index] >= threshold:
            case.path_parameters[name] = real[name]


def _error_shape(response: Any) -> None:
    if response.status_code < 400:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} with a body that is not JSON") from None
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert body.get("status") == response.status_code, f"status field: {body!r}"
    assert isinstance(body.get("detail"), str) and body["detail"], f"detail: {body!r}"


def _fuzz_operation(operation: Any, ids: dict[str, str], token: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        _aim_at_real_objects(case, ids)
        # From an address of its own: the fuzzed logins fail, and must not use up the login
        # budget of 127.0.0.1, which the other tests log in from.
        headers = {"Authorization": f"Bearer {token}", **FUZZ_ADDRESS}
        response = case.call(headers=headers, timeout=60)
        case.validate_response(
            response,
            checks=[
                not_a_server_error,
                content_type_conformance,
                response_schema_conformance,
                status_code_conformance,
            ],
        )
        _error_shape(response)

    run()


def test_fuzz_every_route(server: RunningServer, fuzz_ids: dict[str, str]) -> None:
    """One hypothesis run per operation; the failures of all operations are reported together.

    (schemathesis' own pytest loader, ``from_fixture``, does not work with pytest 9 yet: it
    sets ``request.node._nodeid``, which pytest 9 no longer has.)
    """
    token = server.token()
    schema = schemathesis.openapi.from_url(server.url + "openapi.json")
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation schemathesis cannot read fails the run here
            raise result.err()
        operation = result.ok()
        tested += 1
        try:
            _fuzz_operation(operation, fuzz_ids, token)
        except Exception as error:  # hypothesis re-raises the minimal failing example
            failures.append(f"{operation.label}: {type(error).__name__}: {str(error)[:800]}")
    assert tested > 50
    assert not failures, f"{len(failures)} of {tested} operations failed:\n\n" + "\n\n".join(
        failures
    )


# Malformed ids as they appear in a URL (percent-encoded where a URL needs it; no NUL, which
# the request guard refuses before routing, tests/reliability/test_names_and_requests.py).
MALFORMED_IDS = {
    "space": "%20",
    "inner-space": "a%20b",
    "dot": ".",
    "dot-dot": "..",
    "encoded-dot-dot": "%2e%2e",
    "encoded-traversal": "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "not-a-uuid": "not-a-uuid",
    "uuid-one-char-long": "00000000-0000-0000-0000-0000000000000",
    "uuid-braces": "%7B00000000-0000-0000-0000-000000000000%7D",
    "zero": "0",
    "negative": "-1",
    "exponent": "1e3",
    "30-digits": "9" * 30,
    "5000-characters": "x" * 5000,
    "sql": "%27%20OR%20%271%27=%271",
    "invalid-utf8": "%ff%fe",
    "overlong-utf8-dot": "%C0%AE%C0%AE",
    "right-to-left-override": "%E2%80%AE",
    "json": "%7B%7D",
    "word-null": "null",
}

MULTIPART_BOUNDARY = "MalformedIdBoundary"
MULTIPART_BODY = (
    (
        f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nid.csv\r\n'
        f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="id.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    + CSV
    + f"\r\n--{MULTIPART_BOUNDARY}--\r\n".encode()
)


def _request_body(document: dict[str, Any], path: str, method: str) -> tuple[bytes, dict[str, str]]:
    """A body that passes the route's validation (so the ids are what is judged); a file
    for the routes that take one (an upload, a capture's replacement)."""
    content = document["paths"][path][method].get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        return MULTIPART_BODY, {
            "Content-Type": f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
        }
    kwargs = passing_body(document, path, method)
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode(), {"Content-Type": "application/json"}
    return b"", {}


def _real_ids(path: str, ids: dict[str, str]) -> dict[str, str]:
    real = dict(ids)
    if "/metadata/{label_uuid}" in path:  # there a label is a metadata key
        real["label_uuid"], real["value_uuid"] = ids["meta_uuid"], ids["meta_value_uuid"]
    return real


def _malformed_id_failures(
    server: RunningServer, fuzz_ids: dict[str, str]
) -> tuple[int, list[str]]:
    """Send every malformed id in every path parameter: the number of requests and what
    failed."""
    document = json.loads(client(server.url).get("openapi.json").content)
    address = urlsplit(server.url)
    token = server.token()
    failures: list[str] = []
    tried = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            if not names:
                continue
            body, headers = _request_body(document, path, method)
            real = _real_ids(path, fuzz_ids)
            for name in names:
                for label, bad in MALFORMED_IDS.items():
                    target = path
                    for other in names:
                        value = bad if other == name else real[other].rstrip("/")
                        target = target.replace("{" + other + "}", value)
                    connection = http.client.HTTPConnection(
                        address.hostname or "127.0.0.1", address.port, timeout=120
                    )
                    try:
                        connection.request(
                            method.upper(),
                            target,
                            body=body or None,
                            headers={"Authorization": f"Bearer {token}", **headers},
                        )
                        response = connection.getresponse()
                        status, text = response.status, response.read()
                    finally:
                        connection.close()
                    tried += 1
                    where = f"{method.upper()} {path} {name}={label}"
                    if status not in (400, 404):
                        failures.append(f"{where}: {status} {text[:200]!r}")
                        continue
                    answer = json.loads(text)
                    if answer.get("status") != status or not answer.get("detail"):
                        failures.append(f"{where}: not the error shape: {text[:200]!r}")
    return tried, failures


def test_malformed_ids_in_every_path_parameter(
    server: RunningServer, fuzz_ids: dict[str, str]
) -> None:
    """Every malformed id, in every path parameter of every operation and method, with every
    other id a real one: a 400 or a 404 of the error shape, never a 5xx. Sent with
    http.client, which sends the path as written (httpx would resolve ``..``)."""
    tried, failures = _malformed_id_failures(server, fuzz_ids)
    assert tried > 1000
    assert not failures, f"{len(failures)} of {tried} requests:\n" + "\n".join(failures)
