"""Hostile names and malformed requests: exact storage or a 400 that says why; never a 5xx.

Names are free text (capturehub/server/names.py): whatever a user types is either stored and
read back exactly, or refused with a 400 whose detail explains the refusal. They are never
used to build a storage key, so the blob store's paths never contain them.

Malformed requests of every kind (bad JSON, wrong types, huge numbers, bad uuids, Range
headers, broken multipart bodies) are answered with a 4xx, never a 5xx.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.conftest import RunningServer
from tests.reliability.support import bad_blob_paths, client

CSV = b"AccelX,AccelY\n1,2\n3,4\n"


@dataclass(frozen=True)
class Name:
    value: str
    refusal: tuple[str, ...] | None = None  # None: must be stored exactly; else 400 words
    json_only: bool = False  # cannot be sent as UTF-8 in a multipart field


def stored(value: str) -> Name:
    return Name(value)


def refused(value: str, *words: str, json_only: bool = False) -> Name:
    return Name(value, words, json_only)


_RNG = random.Random(7)
# 1000 characters of 4 bytes each that do not compress: 4000 bytes of UTF-8 to index.
_ASTRAL = "".join(chr(_RNG.randrange(0x20000, 0x2A6D0)) for _ in range(1000))

# fmt: off
NAMES: dict[str, Name] = {
    "slash":                 stored("left/right/../up"),
    "backslash":             stored("C:\\data\\run 1"),
    "dot-dot":               stored(".."),
    "dot":                   stored("."),
    "path-traversal":        stored("../../../../etc/passwd"),
    "percent-encoded":       stored("%2e%2e%2f%00%ff"),
    "nul":                   refused("a\x00b", "control character", "U+0000"),
    "escape-sequence":       refused("red\x1b[31m", "U+001B"),
    "newline":               refused("two\nlines", "U+000A"),
    "tab":                   refused("a\tb", "U+0009"),
    "delete":                refused("a\x7fb", "U+007F"),
    "c1-control":            refused("a\x85b", "U+0085"),
    "10000-characters":      refused("n" * 10_000, "10000 characters", "limit"),
    "1000-characters":       stored("m" * 1000),
    # 4,000 bytes: over PostgreSQL's index entry limit, so names are bounded in bytes too.
    "1000-astral-characters": refused(_ASTRAL, "bytes", "limit"),
    "right-to-left-override": stored("\u202etxt.exe"),
    "right-to-left-script":  stored("\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"),
    "combining-marks":       stored("e\u0301\u0327\u0308 Zalgo\u0336\u0337"),
    "zero-width":            stored("a\u200b\u200d\u2060b"),
    "byte-order-mark":       stored("\ufeffname"),
    "line-separator":        stored("a\u2028b\u2029c"),
    "noncharacters":         stored("\ufdd0\uffff"),
    "emoji":                 stored("\U0001f4c8 run 1 \U0001f469\u200d\U0001f52c"),
    "leading-trailing-spaces": stored("  padded  "),
    "blank":                 refused("   ", "empty"),
    "empty":                 refused("", "empty"),
    "word-none":             stored("None"),
    "word-null":             stored("null"),
    "word-nan":              stored("NaN"),
    "sql":                   stored("x'); DROP TABLE capture; --"),
    "html":                  stored("<script>alert(1)</script>"),
    "lone-surrogate":        refused("a\ud800b", json_only=True),
}
# fmt: on


def _json_body(payload: dict[str, Any]) -> bytes:
    """JSON as a client may send it: ``ensure_ascii`` escapes lone surrogates as \\udXXX."""
    import json

    return json.dumps(payload, ensure_ascii=True).encode("ascii")


@dataclass
class Arena:
    """Team A's objects the names are tried on; one project per kind (names are per kind)."""

    api: httpx.Client
    projects: dict[str, str]
    label: str
    capture: str


JSON = {"Content-Type": "application/json"}


def _post_json(api: httpx.Client, url: str, payload: dict[str, Any]) -> httpx.Response:
    return api.post(url, content=_json_body(payload), headers=JSON)


@dataclass(frozen=True)
class Kind:
    """How to create an object with a given name, and how to read the name back."""

    create: Callable[[Arena, str], httpx.Response]
    read: Callable[[Arena, dict[str, Any]], str]
    listed: Callable[[Arena], list[str]]
    multipart: bool = False


def _project_kind() -> Kind:
    return Kind(
        create=lambda a, v: _post_json(a.api, "project/", {"name": v}),
        read=lambda a, j: a.api.get(f"project/{j['uuid']}/").json()["name"],
        listed=lambda a: [p["name"] for p in a.api.get("project/").json()],
    )


def _in_project(kind: str, path: str, field: str = "name", **extra: Any) -> Kind:
    def create(a: Arena, value: str) -> httpx.Response:
        return _post_json(a.api, f"project/{a.projects[kind]}/{path}", {field: value, **extra})

    def read(a: Arena, created: dict[str, Any]) -> str:
        one = a.api.get(f"project/{a.projects[kind]}/{path}{created['uuid']}/")
        return str(one.json()[field])

    def listed(a: Arena) -> list[str]:
        return [item[field] for item in a.api.get(f"project/{a.projects[kind]}/{path}").json()]

    return Kind(create, read, listed)


def _label_value_kind() -> Kind:
    def base(a: Arena) -> str:
        return f"project/{a.projects['label value']}/label/{a.label}/labelvalue/"

    return Kind(
        create=lambda a, v: _post_json(a.api, base(a), {"value": v}),
        read=lambda a, j: a.api.get(base(a) + j["uuid"]).json()["value"],
        listed=lambda a: [v["value"] for v in a.api.get(base(a)).json()],
    )


def _capture_upload_kind() -> Kind:
    def create(a: Arena, value: str) -> httpx.Response:
        return a.api.post(
            f"project/{a.projects['capture']}/capture/",
            data={"name": value},
            files={"file": ("data.csv", CSV)},
        )

    def read(a: Arena, created: dict[str, Any]) -> str:
        url = f"project/{a.projects['capture']}/capture/{created['uuid']}/"
        name = str(a.api.get(url).json()["name"])
        # The download names the file exactly too (RFC 6266: filename* for non-ASCII).
        disposition = a.api.get(url + "file/").headers["content-disposition"]
        if "filename*=UTF-8''" in disposition:
            assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name
        return name

    def listed(a: Arena) -> list[str]:
        return [c["name"] for c in a.api.get(f"project/{a.projects['capture']}/capture/").json()]

    return Kind(create, read, listed, multipart=True)


def _capture_rename_kind() -> Kind:
    def create(a: Arena, value: str) -> httpx.Response:
        url = f"project/{a.projects['capture rename']}/capture/{a.capture}/"
        return a.api.patch(url, content=_json_body({"name": value}), headers=JSON)

    def read(a: Arena, created: dict[str, Any]) -> str:
        url = f"project/{a.projects['capture rename']}/capture/{created['uuid']}/"
        return str(a.api.get(url).json()["name"])

    def listed(a: Arena) -> list[str]:
        url = f"project/{a.projects['capture rename']}/capture/"
        return [c["name"] for c in a.api.get(url).json()]

    return Kind(create, read, listed)


KINDS: dict[str, Kind] = {
    "project": _project_kind(),
    "capture": _capture_upload_kind(),
    "capture rename": _capture_rename_kind(),
    "label": _in_project("label", "label/", type="string"),
    "metadata key": _in_project("metadata key", "metadata/", type="string"),
    "label value": _label_value_kind(),
    "capture configuration": _in_project(
        "capture configuration", "captureconfiguration/", configuration={}
    ),
}


@pytest.fixture(scope="module")
def arena(server: RunningServer) -> Iterator[Arena]:
    with client(server.url, server.token()) as api:
        projects = {}
        for kind in KINDS:
            if kind == "project":
                continue
            created = api.post("project/", json={"name": f"names {kind} {uuid.uuid4().hex[:6]}"})
            assert created.status_code == 201, created.text
            projects[kind] = created.json()["uuid"]
        label = api.post(
            f"project/{projects['label value']}/label/", json={"name": "Activity"}
        ).json()["uuid"]
        capture = api.post(
            f"project/{projects['capture rename']}/capture/",
            data={"name": "to be renamed"},
            files={"file": ("data.csv", CSV)},
        ).json()["uuid"]
        yield Arena(api, projects, label, capture)


@pytest.mark.parametrize("name_id", list(NAMES))
@pytest.mark.parametrize("kind_id", list(KINDS))
def test_name_is_stored_exactly_or_refused_with_a_reason(
    arena: Arena, kind_id: str, name_id: str
) -> None:
    kind, name = KINDS[kind_id], NAMES[name_id]
    if kind.multipart and name.json_only:
        pytest.skip("a lone surrogate cannot be encoded in a UTF-8 multipart field")
    response = kind.create(arena, name.value)
    assert response.status_code < 500, f"server error: {response.text}"
    if name.refusal is None:
        assert response.status_code in (200, 201), response.text
        created = response.json()
        assert created.get("name", created.get("value")) == name.value
        assert kind.read(arena, created) == name.value
        assert name.value in kind.listed(arena)
    else:
        assert response.status_code == 400, response.text
        detail = response.json()["detail"]
        assert detail, "a refusal must say why"
        for word in name.refusal:
            assert word in detail
        assert name.value not in kind.listed(arena)


def test_nfc_and_nfd_spellings_are_two_names(arena: Arena) -> None:
    """Names are compared as given: no Unicode normalisation merges two of them."""
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    project = KINDS["label"]
    first = project.create(arena, composed)
    second = project.create(arena, decomposed)
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    names = project.listed(arena)
    assert composed in names and decomposed in names


def test_invalid_utf8_in_a_multipart_name_is_refused(arena: Arena) -> None:
    """A name field that is not UTF-8 cannot be stored exactly: it must be a 400, not a guess."""
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n'.encode()
        + b"caf\xe9 latin-1"
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="x.csv"\r\n\r\n'.encode()
        + CSV
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = arena.api.post(
        f"project/{arena.projects['capture']}/capture/",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.json()["detail"]


def test_blob_keys_never_contain_names(server: RunningServer, arena: Arena) -> None:
    """Every stored file lives under generated uuid keys, whatever the names above were."""
    assert not bad_blob_paths(server.data_dir)


# Malformed requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    method: str
    path: str  # {p} project, {c} capture, {l} label, {v} label value
    kwargs: dict[str, Any]
    allowed: tuple[int, ...] = ()  # besides 4xx (e.g. 200 for an ignorable Range header)


def _multipart(body: bytes, boundary: str | None = "XyZ") -> dict[str, Any]:
    content_type = "multipart/form-data" + (f"; boundary={boundary}" if boundary else "")
    return {"content": body, "headers": {"Content-Type": content_type}}


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    extra = f'; filename="{filename}"' if filename else ""
    return (
        f'--XyZ\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'.encode()
        + value
        + b"\r\n"
    )


_GOOD_PARTS = _part("name", b"ok.csv") + _part("file", CSV, "ok.csv")
_JSON = {"Content-Type": "application/json"}
_RANGE_OK = (200, 206, 416)

# fmt: off
MALFORMED: dict[str, Bad] = {
    # JSON bodies
    "json-truncated":        Bad("POST", "project/", {"content": b'{"name": ', "headers": _JSON}),
    "json-not-an-object":    Bad("POST", "project/", {"content": b"[1, 2]", "headers": _JSON}),
    "json-deeply-nested":    Bad("POST", "project/", {"content": b"[" * 50_000 + b"]" * 50_000,
                                                      "headers": _JSON}),
    "json-bad-utf8":         Bad("POST", "project/", {"content": b'{"name": "\xff\xfe"}',
                                                      "headers": _JSON}),
    "json-as-text-plain":    Bad("POST", "project/", {"content": b'{"name": 1}',
                                                      "headers": {"Content-Type": "text/plain"}}),
    "name-is-a-number":      Bad("POST", "project/", {"json": {"name": 123}}),
    "name-is-null":          Bad("POST", "project/", {"json": {"name": None}}),
    "name-is-a-list":        Bad("POST", "project/", {"json": {"name": ["a"]}}),
    "settings-is-a-string":  Bad("POST", "project/", {"json": {"name": "s", "settings": "x"}}),
    "lock-schema-maybe":     Bad("PATCH", "project/{p}/", {"json": {"lock_schema": "maybe"}}),
    "settings-infinity":     Bad("POST", "project/", {"content": b'{"name": "inf", "settings": '
                                                      b'{"a": Infinity}}', "headers": _JSON}),
    "settings-nan":          Bad("POST", "project/", {"content": b'{"name": "nan", "settings": '
                                                      b'{"a": NaN}}', "headers": _JSON}),
    "configuration-1e999":   Bad("POST", "project/{p}/captureconfiguration/",
                                 {"content": b'{"name": "c", "configuration": {"a": 1e999}}',
                                  "headers": _JSON}),
    "integer-5000-digits":   Bad("POST", "project/", {"content": b'{"name": "big", "settings": '
                                                      b'{"a": ' + b"9" * 5000 + b"}}",
                                                      "headers": _JSON}),
    "rate-400-digits":       Bad("PATCH", "project/{p}/capture/{c}/",
                                 {"content": b'{"set_sample_rate": ' + b"9" * 400 + b"}",
                                  "headers": _JSON}),
    "rate-negative":         Bad("PATCH", "project/{p}/capture/{c}/",
                                 {"json": {"set_sample_rate": -5}}),
    "rate-text":             Bad("PATCH", "project/{p}/capture/{c}/",
                                 {"json": {"set_sample_rate": "fast"}}),
    "patch-json-list":       Bad("PATCH", "project/{p}/capture/{c}/", {"json": [1, 2]}),
    "label-type-unknown":    Bad("POST", "project/{p}/label/", {"json": {"name": "t",
                                                                          "type": "complex"}}),
    "label-values-object":   Bad("POST", "project/{p}/label/", {"json": {"name": "t2",
                                                                          "values": {"a": 1}}}),
    "value-color-bad":       Bad("POST", "project/{p}/label/{l}/labelvalue/",
                                 {"json": {"value": "v", "color": "red"}}),
    "segment-bounds-text":   Bad("POST", "project/{p}/capture/{c}/label-relationship/",
                                 {"json": {"label": "{l}", "label_value": "{v}",
                                           "capture_sample_sequence_start": "a",
                                           "capture_sample_sequence_end": 1}}),
    "segment-bounds-huge":   Bad("POST", "project/{p}/capture/{c}/label-relationship/",
                                 {"json": {"label": "{l}", "label_value": "{v}",
                                           "capture_sample_sequence_start": 10**30,
                                           "capture_sample_sequence_end": 10**31}}),
    "segment-not-a-dict":    Bad("POST", "project/{p}/capture/{c}/label-relationship/",
                                 {"json": "segment"}),
    "capture-files-no-list": Bad("POST", "project/{p}/capture-files/",
                                 {"json": {"capture_uuids": "all"}}),
    # Query values
    "limit-huge":            Bad("GET", "project/{p}/capture/", {"params": {"limit": "9" * 30}}),
    "offset-huge":           Bad("GET", "project/{p}/capture/", {"params": {"offset": "9" * 30}}),
    "offset-5000-digits":    Bad("GET", "project/{p}/capture/", {"params": {"offset": "9" * 5000}}),
    "limit-negative":        Bad("GET", "project/{p}/capture/", {"params": {"limit": "-1"}}),
    "limit-text":            Bad("GET", "project/{p}/capture/", {"params": {"limit": "ten"}}),
    "ordering-unknown":      Bad("GET", "project/{p}/capture/", {"params": {"ordering": "pwd"}}),
    "task-state-unknown":    Bad("GET", "project/{p}/capture/", {"params": {"task_state": "X"}}),
    "name-filter-nul":       Bad("GET", "project/{p}/capture/", {"params": {"name": "a\x00"}},
                                 allowed=(200,)),
    "name-filter-60k":       Bad("GET", "project/{p}/capture/", {"params": {"name": "x" * 60_000}},
                                 allowed=(200,)),
    "data-start-negative":   Bad("GET", "project/{p}/capture/{c}/data/", {"params": {"start": -1}}),
    "data-start-huge":       Bad("GET", "project/{p}/capture/{c}/data/",
                                 {"params": {"start": "9" * 30}}, allowed=(200,)),
    "segmenter-id-huge":     Bad("GET", "project/{p}/segmenter/" + "9" * 30 + "/", {}),
    "segmenter-id-text":     Bad("GET", "project/{p}/segmenter/abc/", {}),
    # Identifiers in the path
    "uuid-garbage":          Bad("GET", "project/not-a-uuid/", {}),
    "uuid-sql":              Bad("GET", "project/{p}/capture/' OR '1'='1/", {}),
    "uuid-10000-chars":      Bad("GET", "project/" + "a" * 10_000 + "/", {}),
    "uuid-nul":              Bad("GET", "project/%00/", {}),
    "uuid-nul-capture":      Bad("GET", "project/{p}/capture/%00/", {}),
    "uuid-bad-percent":      Bad("GET", "project/%ZZ/", {}),
    "uuid-unicode":          Bad("GET", "project/\u202e\U0001f4c8/", {}),
    "metadata-query-garbage": Bad("GET", "project/{p}/capture/metadata/%ZZ[/", {}),
    # Range headers on a download
    "range-letters":         Bad("GET", "project/{p}/capture/{c}/file/",
                                 {"headers": {"Range": "bytes=abc"}}, _RANGE_OK),
    "range-reversed":        Bad("GET", "project/{p}/capture/{c}/file/",
                                 {"headers": {"Range": "bytes=5-1"}}, _RANGE_OK),
    "range-suffix-zero":     Bad("GET", "project/{p}/capture/{c}/file/",
                                 {"headers": {"Range": "bytes=-0"}}, _RANGE_OK),
    "range-past-the-end":    Bad("GET", "project/{p}/capture/{c}/file/",
                                 {"headers": {"Range": "bytes=99999999999999999999999-"}},
                                 _RANGE_OK),
    "range-5000-digits":     Bad("GET", "project/{p}/capture/{c}/file/",
                                 {"headers": {"Range": "bytes=0-" + "9" * 5000}}, _RANGE_OK),
    "range-several":         Bad("GET", "project/{p}/capture/{c}/file/",
                                 {"headers": {"Range": "bytes=0-1,3-4"}}, _RANGE_OK),
    "range-other-unit":      Bad("GET", "project/{p}/capture/{c}/file/",
                                 {"headers": {"Range": "items=0-1"}}, _RANGE_OK),
    # Multipart uploads
    "multipart-no-boundary": Bad("POST", "project/{p}/capture/", _multipart(_GOOD_PARTS, None)),
    "multipart-wrong-boundary": Bad("POST", "project/{p}/capture/",
                                    _multipart(_GOOD_PARTS, "other")),
    "multipart-truncated":   Bad("POST", "project/{p}/capture/",
                                 _multipart(_part("name", b"t.csv") + _part("file", CSV, "t.csv")
                                            [:-30])),
    "multipart-no-closing":  Bad("POST", "project/{p}/capture/", _multipart(_GOOD_PARTS)),
    "multipart-no-file":     Bad("POST", "project/{p}/capture/",
                                 _multipart(_part("name", b"n.csv") + b"--XyZ--\r\n")),
    "multipart-two-files":   Bad("POST", "project/{p}/capture/",
                                 _multipart(_part("name", b"two.csv") + _part("file", CSV, "a.csv")
                                            + _part("file", CSV, "b.csv") + b"--XyZ--\r\n")),
    "multipart-huge-field":  Bad("POST", "project/{p}/capture/",
                                 _multipart(_part("name", b"n" * 200_000)
                                            + _part("file", CSV, "h.csv") + b"--XyZ--\r\n")),
    "multipart-bad-header":  Bad("POST", "project/{p}/capture/",
                                 _multipart(b"--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--\r\n")),
    "multipart-garbage":     Bad("POST", "project/{p}/capture/",
                                 _multipart(random.Random(3).randbytes(5000))),
    "urlencoded-upload":     Bad("POST", "project/{p}/capture/",
                                 {"data": {"name": "x.csv", "file": "a,b\n1,2\n"}}),
    "async-not-a-bool":      Bad("POST", "project/{p}/capture/",
                                 _multipart(_part("name", b"m.csv")
                                            + _part("asynchronous", b"perhaps")
                                            + _part("file", CSV, "m.csv") + b"--XyZ--\r\n")),
    "multipart-patch-truncated": Bad("PATCH", "project/{p}/capture/{c}/",
                                     _multipart(_part("file", CSV * 100, "p.csv")[:-50])),
    # Logging in
    "login-no-grant":        Bad("POST", "oauth/token/", {"data": {"username": "a"}}),
    "login-grant-unknown":   Bad("POST", "oauth/token/", {"data": {"grant_type": "magic"}}),
    "login-nul-username":    Bad("POST", "oauth/token/", {"data": {"grant_type": "password",
                                                                   "username": "a\x00b",
                                                                   "password": "x"}}),
    "login-100k-username":   Bad("POST", "oauth/token/", {"data": {"grant_type": "password",
                                                                   "username": "u" * 100_000,
                                                                   "password": "x"}}),
    "login-json-body":       Bad("POST", "oauth/token/", {"json": {"grant_type": "password"}}),
    "refresh-garbage":       Bad("POST", "oauth/token/",
                                 {"data": {"grant_type": "refresh_token",
                                           "refresh_token": "\u202e" * 99}}),
    # Methods
    "method-not-allowed":    Bad("DELETE", "version/", {}),
}
# fmt: on


@dataclass
class Targets:
    api: httpx.Client
    ids: dict[str, str]


@pytest.fixture(scope="module")
def targets(server: RunningServer) -> Iterator[Targets]:
    with client(server.url, server.token()) as api:
        project = api.post("project/", json={"name": f"malformed {uuid.uuid4().hex[:6]}"}).json()
        p = project["uuid"]
        capture = api.post(
            f"project/{p}/capture/",
            data={"name": "target.csv", "asynchronous": "False"},
            files={"file": ("target.csv", CSV)},
        ).json()
        label = api.post(f"project/{p}/label/", json={"name": "L", "values": ["v"]}).json()
        value = label["label_values"][0]["uuid"]
        yield Targets(api, {"p": p, "c": capture["uuid"], "l": label["uuid"], "v": value})


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, real in ids.items():
            value = value.replace("{" + key + "}", real)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case_id", list(MALFORMED))
def test_malformed_request_is_a_4xx(targets: Targets, case_id: str) -> None:
    case = MALFORMED[case_id]
    kwargs = dict(case.kwargs)
    if "json" in kwargs:
        kwargs["json"] = _fill(kwargs["json"], targets.ids)
    response = targets.api.request(case.method, _fill(case.path, targets.ids), **kwargs)
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert 400 <= response.status_code < 500 or response.status_code in case.allowed, (
        f"{response.status_code}: {response.text[:300]}"
    )
    if 400 <= response.status_code < 500:
        assert response.json().get("detail"), "a refusal must say why"
    # The server is still whole after it.
    assert targets.api.get("healthz/").status_code == 200
