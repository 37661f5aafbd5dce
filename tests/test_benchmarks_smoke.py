"""The benchmark suite in its smoke mode, so that its code cannot rot (figures are not
asserted: timings belong in docs/performance.md, never in tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_benchmarks_run_in_smoke_mode(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--smoke",
            "--workdir",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["mode"] == "smoke"
    assert figures["ingest"]["ingest_mb_s"] > 0 and figures["ingest"]["reference_mb_s"] > 0
    assert figures["memory"]["server_upload_growth_mb"] is not None
    assert figures["lookups"]["get_by_uuid_p95_ms"] > 0
    assert figures["statistics"]["statistics_s"] > 0
    assert figures["ingest"]["parallel_ingest_mb_s"] > 0
    assert figures["ingest"]["wav_ingest_mb_s"] > 0
    assert figures["edge-impulse"]["files_per_s"] > 0
    # The web UI's figures need Chromium (tests/ui installs and requires it the same way).
    assert "skipped" in figures["ui"] or figures["ui"]["capture_page_ms"] > 0
    assert figures["s3"]["s3_ingest_mb_s"] > 0 and figures["s3"]["range_s3_p50_ms"] > 0
    assert figures["s3"]["s3_celery_ingest_mb_s"] > 0
    assert figures["s3-memory"]["worker_with_pyramid_growth_mb"] is not None
    for key in ("sdk_upload_growth_mb", "sdk_download_growth_mb", "server_download_growth_mb"):
        assert figures["memory"][key] is not None, key
    assert figures["download"]["download_mb_s"] > 0 and figures["download"]["cp_mb_s"] > 0
    assert figures["download"]["range_read_p95_ms"] > 0
    assert figures["download"]["download_http_mb_s"] > 0
    assert figures["download"]["download_copied_in_place"] is True
    assert figures["data"]["get_data_s"] > 0 and figures["data"]["read_csv_s"] > 0
    assert figures["data"]["get_data_http_s"] > 0
    # The benchmark's SDK runs on the server's machine: get_data() must have read in place.
    assert figures["data"]["get_data_read_in_place"] is True
    # The load section: concurrent clients mixing reads and uploads, none refused.
    assert figures["load"]["requests"] > 0 and figures["load"]["errors"] == 0
    assert figures["load"]["p99_ms"] > 0 and figures["load"]["requests_per_s"] > 0
    # The cluster section: 2 servers and 2 workers on Redis beside one embedded server.
    assert figures["cluster"]["cluster_mb_s"] > 0 and figures["cluster"]["embedded_mb_s"] > 0
    # The plot section: windows over HTTP, the pyramid's build and size.
    assert figures["plot"]["window_all_p95_ms"] > 0
    # The recording-device section: a simulated Simple Streaming device into a recording.
    assert figures["recording-device"]["samples_stored_equal_sent_all_runs"] is True
    assert 0 < figures["plot"]["pyramid_size_vs_columnar"] < 1
    for section in ("[lookups]", "[download]", "[data]", "[load]"):
        assert section in result.stdout, section


def test_the_s3_ingest_figures_run_alone(tmp_path: Path) -> None:
    # `--only s3-ingest` repeats the s3 section's ingest turns without its large capture; a
    # full run leaves it out (the s3 section has the same figures).
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--smoke",
            "--only",
            "s3-ingest",
            "--workdir",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert set(figures) & {"s3", "ingest"} == set()
    ingest = figures["s3-ingest"]
    if "skipped" not in ingest:  # SeaweedFS missing: the section says so
        assert ingest["s3_celery_ingest_mb_s"] > 0 and ingest["local_ingest_mb_s"] > 0
        assert ingest["s3_celery_ingest_vs_local"] > 0
        assert "range_s3_p50_ms" not in ingest
