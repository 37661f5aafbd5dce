"""docs/sdk.md stays true: its examples run against a real server, and it documents every
public member of the SDK.

Every fenced ``python`` block of docs/sdk.md runs, in order, in one namespace, as a reader
would paste them into one session. The docs write their placeholders in capitals; the test
binds them to the test server:

- ``SERVER``, ``USERNAME``, ``PASSWORD``, ``API_KEY``: the server and an account;
- ``PROJECT``: a fresh project name;
- ``DATA``: the folder of shared recordings (``pathlib.Path``);
- ``OUTDIR``: an empty folder to download into.

Blocks that must not run are fenced as ``pycon`` or ``text`` instead (the docs have none yet).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from pathlib import Path

import pytest

import capturehub
import capturehub.exceptions
from capturehub import (
    Capture,
    CaptureMetadata,
    Captures,
    CaptureSegments,
    Client,
    ExportReport,
    ImportEvent,
    ImportReport,
    Label,
    Project,
    Projects,
    Recording,
    Recordings,
    Segment,
)
from tests.conftest import RunningServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    return BLOCK.findall(DOCS.read_text(encoding="utf-8"))


def test_docs_have_the_seed_examples() -> None:
    code = "\n".join(_blocks())
    for example in (
        "client.list_captures()",
        'client.project.captures.get_capture_by_filename("Capture Name")',
        "client.project.captures.get_capture_by_uuid(uuid)",
    ):
        assert example in code


def test_docs_examples_run(
    server: RunningServer,
    project_name: str,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("CAPTUREHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    outdir = tmp_path / "downloads"
    namespace: dict[str, object] = {
        "SERVER": server.url,
        "USERNAME": server.username,
        "PASSWORD": server.password,
        "API_KEY": server.api_key,
        "PROJECT": project_name,
        "DATA": shared_data,
        "OUTDIR": outdir,
    }
    blocks = _blocks()
    assert len(blocks) >= 5
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"docs/sdk.md block {number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"docs/sdk.md block {number} failed:\n{block}") from exc
        finally:
            for name in list(os.environ):  # a block may set CAPTUREHUB_* for its example
                if name.startswith("CAPTUREHUB_"):
                    monkeypatch.delenv(name)
    client = namespace["client"]
    assert isinstance(client, Client)
    client.close()


def _defined_by_the_sdk(cls: type, name: str) -> bool:
    """Whether ``name`` comes from the SDK rather than from a standard base class (the
    Mapping and Sequence methods of CaptureMetadata and CaptureSegments are documented as
    "works as for a dict")."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass.__module__.startswith("capturehub")
    return False


def _public_members(cls: type) -> list[str]:
    members = [
        name
        for name, _ in inspect.getmembers(cls)
        if not name.startswith("_")
        and name not in ("with_traceback", "add_note", "args")
        and _defined_by_the_sdk(cls, name)
    ]
    if dataclasses.is_dataclass(cls):  # fields without a default are not class attributes
        members += [field.name for field in dataclasses.fields(cls) if field.name not in members]
    return members


@pytest.mark.parametrize(
    "cls",
    [
        Client,
        Projects,
        Project,
        Captures,
        Capture,
        CaptureMetadata,
        CaptureSegments,
        Segment,
        Label,
        ImportReport,
        ImportEvent,
        ExportReport,
        Recordings,
        Recording,
    ],
)
def test_every_public_member_is_documented(cls: type) -> None:
    text = DOCS.read_text(encoding="utf-8")
    members = _public_members(cls)
    if cls is Client:
        members += ["connection", "projects"]  # instance attributes
    missing = [name for name in members if f"`{cls.__name__}.{name}" not in text]
    assert not missing, f"docs/sdk.md lacks {cls.__name__}: {missing}"


def test_every_exception_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in capturehub.exceptions.__all__ if f"`{name}`" not in text]
    assert not missing, f"docs/sdk.md lacks exceptions {missing}"
    assert set(capturehub.exceptions.__all__) <= set(capturehub.__all__)
