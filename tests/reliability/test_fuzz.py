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
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

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
        "rest": "[M]=[m]/",
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
