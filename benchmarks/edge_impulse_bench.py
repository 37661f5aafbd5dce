"""Edge Impulse ingestion: one request of many small CSV files (``/api/training/files``).

Edge Impulse takes up to 1,000 files per request; a folder of short recordings arrives that
way. Each run uploads ``edge_impulse_files`` files of three lines to a fresh project (the
names then never collide, so every run does the same work) and times the whole request,
from the first byte sent to the answer listing every file.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from benchmarks.run import median_of
from capturehub.cli.main import cli
from tests.servers import ServerProcess, new_server


def _ingestion_key(process: ServerProcess, username: str, project: str) -> str:
    """An ``ei_`` key for the project, made as a user would (``capturehub apikey create``)."""
    env = {"CAPTUREHUB_DATA_DIR": str(process.data_dir)}
    if process.database_url:
        env["CAPTUREHUB_DATABASE_URL"] = process.database_url
    result = CliRunner().invoke(
        cli,
        ["apikey", "create", "--user", username, "--project", project, "--edge-impulse"],
        env=env,
    )
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return str(result.output.strip().splitlines()[-1])


def bench_edge_impulse(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    count = sizes["edge_impulse_files"]
    files = [
        (
            "data",
            (f"idle.{index}.csv", f"timestamp,a\n0,{index}\n10,{index}\n".encode(), "text/csv"),
        )
        for index in range(count)
    ]
    server_dir = Path(tempfile.mkdtemp(prefix="edge-impulse-", dir=workdir))
    process = new_server(backend, server_dir)
    account = process.create_account("bench", "bench")
    process.start()
    api = httpx.Client(
        base_url=process.url,
        timeout=900,
        headers={"Authorization": f"Bearer {process.token(account)}"},
    )
    runs_done = 0
    try:

        def one_request() -> float:
            nonlocal runs_done
            runs_done += 1
            name = f"folder-{runs_done}"
            api.post("project/", json={"name": name}).raise_for_status()
            key = _ingestion_key(process, account.username, name)
            started = time.perf_counter()
            response = httpx.post(
                process.url + "api/training/files/",
                files=files,
                headers={"x-api-key": key, "x-no-label": "1"},
                timeout=900,
            )
            seconds = time.perf_counter() - started
            response.raise_for_status()
            stored = sum(1 for item in response.json()["files"] if item["success"])
            if stored != count:
                raise RuntimeError(f"{stored} of {count} files stored: {response.text[:500]}")
            return seconds

        seconds, runs = median_of(repeat, one_request)
        return {
            "files": count,
            "request_s": seconds,
            "request_runs": runs,
            "files_per_s": count / seconds,
        }
    finally:
        api.close()
        process.close()
        shutil.rmtree(server_dir, ignore_errors=True)
