"""Try the SensiML Python SDK, unchanged, against a running capturehub server, by hand.

Not part of the test suite: the SensiML SDK is proprietary and pins old numpy/pandas, so it
lives in a scratch virtual environment of its own (docs/sensiml.md):

    python3 -m venv /tmp/sensiml-venv
    /tmp/sensiml-venv/bin/pip install 'sensiml==2024.2.0' 'numpy<2' 'pandas<2' scipy six httpx
    ./scripts/start --port 8765 &          # note the admin password it prints
    /tmp/sensiml-venv/bin/python scripts/sensiml_smoke.py --port 8765 --password '...' \\
        [--api-key chk_...]

It logs in, uploads a few watch captures (CSV, asynchronous and not) and a WAV, labels them over
plain HTTP as a labelling tool would, then calls every Captures/Capture member the SensiML SDK
offers and prints OK or FAIL for each.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sensiml import SensiML  # type: ignore[import-not-found]

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
failures: list[str] = []


def step(name: str, call: Callable[[], Any]) -> Any:
    try:
        result = call()
    except Exception as exc:  # report and go on: the point is the full list
        failures.append(name)
        print(f"FAIL {name}: {type(exc).__name__}: {exc}")
        traceback.print_exc(limit=2)
        return None
    print(f"OK   {name}: {str(result)[:200]}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--api-key")
    args = parser.parse_args()
    # The SensiML SDK allows plain-HTTP OAuth only for a host written "localhost".
    server = f"http://localhost:{args.port}/"
    client = step(
        "login with password",
        lambda: SensiML(server=server, username=args.username, password=args.password),
    )
    if client is None:
        return 1
    step("select project", lambda: setattr(client, "project", "sensiml-smoke"))
    captures = client.project.captures
    manifest = json.loads((DATA / "watch" / "manifest.json").read_text())[:4]
    uploaded = {}
    for index, entry in enumerate(manifest):
        path = DATA / "watch" / entry["file"]
        uploaded[path.name] = step(
            f"create_capture {path.name} asynchronous={index % 2 == 0}",
            lambda path=path, index=index: captures.create_capture(
                path.name, str(path), asynchronous=index % 2 == 0
            ),
        )
    wav = step(
        "create_capture WAV",
        lambda: captures.create_capture(
            "BM003.wav", str(DATA / "audio" / "BM003.wav"), asynchronous=False
        ),
    )
    for name, capture in uploaded.items():
        step(f"await_ready {name}", lambda capture=capture: capture.await_ready(sleep=1))

    token = httpx.post(
        server + "oauth/token/",
        data={
            "grant_type": "password",
            "username": args.username,
            "password": args.password,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    project = client.project.uuid
    for key in ("Subject", "Side"):
        httpx.post(
            server + f"project/{project}/metadata/",
            json={"name": key, "is_dropdown": False},
            headers=headers,
        )
    httpx.post(
        server + f"project/{project}/label/",
        headers=headers,
        json={"name": "Exercise", "values": sorted({e["segments"][0]["value"] for e in manifest})},
    )
    for entry in manifest:
        capture = uploaded[Path(entry["file"]).name]
        for key, value in entry["metadata"].items():
            httpx.post(
                server + f"v2/project/{project}/capture/{capture.uuid}/metadata-relationship/",
                json={"label": key, "label_value": value},
                headers=headers,
            )
        segment = entry["segments"][0]
        httpx.post(
            server + f"project/{project}/capture/{capture.uuid}/label-relationship/",
            headers=headers,
            json={
                "label": "Exercise",
                "label_value": segment["value"],
                "capture_sample_sequence_start": segment["start"],
                "capture_sample_sequence_end": segment["end"],
            },
        )

    step("list_captures", client.list_captures)
    step("get_captures", captures.get_captures)
    first_name = Path(manifest[0]["file"]).name
    step("get_capture_by_filename", lambda: captures.get_capture_by_filename(first_name))
    if wav is not None:
        step("get_capture_by_uuid", lambda: captures.get_capture_by_uuid(wav.uuid))
    step("get_label_names", captures.get_label_names)
    step("get_label_names_and_values", captures.get_label_names_and_values)
    step("get_metadata_names", captures.get_metadata_names)
    step("get_metadata_names_and_values", captures.get_metadata_names_and_values)
    subject = manifest[0]["metadata"]["Subject"]
    step(
        "get_captures_by_metadata",
        lambda: [c.filename for c in captures.get_captures_by_metadata("Subject", subject)],
    )
    step("get_statistics", lambda: captures.get_statistics()[0].to_string())
    first = uploaded[first_name]
    step("ready", lambda: first.ready)
    step("refresh", first.refresh)
    outdir = tempfile.mkdtemp()
    step("download", lambda: first.download(outdir=outdir))
    step(
        "downloaded bytes identical",
        lambda: (
            (Path(outdir) / first_name).read_bytes()
            == (DATA / "watch" / manifest[0]["file"]).read_bytes()
        ),
    )
    first.path = str(DATA / "watch" / manifest[1]["file"])
    step("update with a new file", first.update)
    step(
        "get_or_create of an existing capture",
        lambda: captures.get_or_create(first_name, first.path),
    )
    if wav is not None:
        step("delete", wav.delete)
    if args.api_key:
        by_key = step("login with API key", lambda: SensiML(server=server, api_key=args.api_key))
        if by_key is not None:
            by_key.project = "sensiml-smoke"
            step("list with API key", by_key.list_captures)
    print(f"\n{len(failures)} failed: {failures}" if failures else "\nall steps OK")
    os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
