"""The plot window and its min/max pyramid (``--only plot``).

- The window route over HTTP on the 10 M-sample, 6-channel capture (the ``data`` section's
  CSV), 2,000 buckets, at zooms from the whole capture down to 2,000 samples (raw): p50/p95 per
  zoom, then the same windows once the pyramid is removed (computed from the columnar copy,
  as for a capture processed before pyramids existed): the pyramid's speed-up.
- What the pyramid adds to ingesting the 85 MB CSV (the ``ingest`` section's): for each upload,
  the time from the request to ``SUCCESS`` (the capture is usable, no pyramid yet) and to the
  pyramid's being read by the window route, in the same run; the in-process build time of the
  pyramid from the columnar copy; and its size against the columnar copy's.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.data import make_csv
from benchmarks.run import INGEST_SETTLE_FACTOR, MB, Session, percentiles, settle

BUCKETS = 2000


def bench_plot(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {"load_average_at_start": list(os.getloadavg())}
    session = Session(workdir, backend)
    try:
        results.update(_windows(session, workdir, sizes))
        results.update(_pyramid_cost(session, workdir, sizes, repeat))
    finally:
        session.close()
    results["load_average_at_end"] = list(os.getloadavg())
    return results


def _plot_url(session: Session, capture_uuid: str) -> str:
    return f"project/{session.project}/capture/{capture_uuid}/plot/"


def _wait_for_pyramid(session: Session, url: str, poll_seconds: float = 0.01) -> None:
    """Until the window route reads the pyramid (its coarsest window comes from a level)."""
    while True:
        body = session.api.get(url, params={"buckets": 1}).json()
        if body.get("level") is not None:
            return
        time.sleep(poll_seconds)


def _timed_windows(
    api: httpx.Client, url: str, windows: list[dict[str, int]]
) -> tuple[list[float], set[Any]]:
    latencies, levels = [], set()
    for params in windows:
        started = time.perf_counter()
        response = api.get(url, params=params)
        body = response.content
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        levels.add(_level_of(body))
    return latencies, levels


def _level_of(body: bytes) -> Any:
    import json

    return json.loads(body).get("level")


def _windows(session: Session, workdir: Path, sizes: dict[str, int]) -> dict[str, Any]:
    rows = sizes["data_rows"]
    csv = make_csv(workdir / f"data-{rows}rows.csv", rows)
    created = session.upload(csv, csv.name)
    session.wait(created["uuid"], poll_seconds=0.5)
    url = _plot_url(session, created["uuid"])
    _wait_for_pyramid(session, url)
    requests = sizes["plot_requests"]
    rng = random.Random(16)
    zooms = {"whole": rows, "tenth": rows // 10, "hundredth": rows // 100}
    zooms["thousandth"] = rows // 1000
    zooms["raw_2000"] = BUCKETS
    plans: dict[str, list[dict[str, int]]] = {}
    for name, width in zooms.items():
        plans[name] = []
        for _ in range(requests):
            start = rng.randrange(0, rows - width + 1)
            plans[name].append({"start": start, "end": start + width, "buckets": BUCKETS})
    _timed_windows(session.api, url, [window for plan in plans.values() for window in plan[:3]])
    results: dict[str, Any] = {"plot_rows": rows, "plot_channels": 6, "plot_buckets": BUCKETS}
    everything: list[float] = []
    for name, plan in plans.items():
        latencies, levels = _timed_windows(session.api, url, plan)
        everything += latencies
        for key, value in percentiles(latencies).items():
            results[f"window_{name}_{key}"] = value
        results[f"window_{name}_levels"] = " ".join(sorted(str(level) for level in levels))
    results.update({f"window_all_{k}": v for k, v in percentiles(everything).items()})
    # The same windows computed from the columnar copy (no pyramid): fewer, they are slow.
    context = session.process.context()
    try:
        from capturehub.server.models import Capture
        from capturehub.server.storage_keys import CaptureFiles

        with context.db.read() as db:
            blob_key = db.query(Capture.blob_key).filter(Capture.uuid == created["uuid"]).scalar()
        files = CaptureFiles.of(blob_key)
        results["pyramid_mb"] = context.blobs.size(files.plot_pyramid) / MB
        results["columnar_mb"] = context.blobs.size(files.columnar) / MB
        context.blobs.delete(files.plot_pyramid)
    finally:
        context.db.dispose()
    fallback_all: list[float] = []
    for name, plan in plans.items():
        latencies, _levels = _timed_windows(session.api, url, plan[: max(3, requests // 5)])
        fallback_all += latencies
        for key, value in percentiles(latencies).items():
            results[f"columnar_{name}_{key}"] = value
    results.update({f"columnar_all_{k}": v for k, v in percentiles(fallback_all).items()})
    results["pyramid_vs_columnar_p95"] = (
        results["columnar_all_p95_ms"] / results["window_all_p95_ms"]
    )
    results["pyramid_size_vs_columnar_10m"] = results["pyramid_mb"] / results["columnar_mb"]
    return results


def _pyramid_cost(
    session: Session, workdir: Path, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    csv = make_csv(workdir / "ingest.csv", sizes["ingest_rows"])
    settle_bytes = INGEST_SETTLE_FACTOR * csv.stat().st_size
    session.wait(session.upload(csv, "plot-warmup.csv")["uuid"], poll_seconds=0.2)
    to_success: list[float] = []
    to_pyramid: list[float] = []
    last_uuid = ""
    for run in range(repeat):
        settle(settle_bytes)
        started = time.time()
        last_uuid = session.upload(csv, f"plot-ingest-{run}.csv")["uuid"]
        capture = session.wait(last_uuid, poll_seconds=0.2)
        from datetime import datetime

        to_success.append(datetime.fromisoformat(capture["last_modified"]).timestamp() - started)
        _wait_for_pyramid(session, _plot_url(session, last_uuid), poll_seconds=0.2)
        # When the job stored the pyramid (its file's ctime; storing it is a rename), not when
        # a poll saw it: the server is on this machine, on the same clock. Polls every 10 ms
        # from the upload on would slow the ingest they time (see Session.ingest_seconds).
        to_pyramid.append(_pyramid_written_at(session, last_uuid) - started)
    results: dict[str, Any] = {
        "ingest_file_mb": round(csv.stat().st_size / MB, 1),
        "ingest_to_success_s": statistics.median(to_success),
        "ingest_to_pyramid_s": statistics.median(to_pyramid),
        "ingest_to_success_runs": to_success,
        "ingest_to_pyramid_runs": to_pyramid,
        # What waiting for the pyramid adds to the ingest time, run by run (median).
        "pyramid_adds_to_ingest": statistics.median(
            p / s - 1 for p, s in zip(to_pyramid, to_success, strict=True)
        ),
    }
    results.update(_build_in_process(session, csv, last_uuid, repeat))
    results["pyramid_build_vs_ingest"] = results["pyramid_build_s"] / results["ingest_to_success_s"]
    return results


def _pyramid_written_at(session: Session, capture_uuid: str) -> float:
    from capturehub.server.models import Capture
    from capturehub.server.storage_keys import CaptureFiles

    context = session.process.context()
    try:
        with context.db.read() as db:
            blob_key = db.query(Capture.blob_key).filter(Capture.uuid == capture_uuid).scalar()
        path = context.blobs.stored_path(CaptureFiles.of(blob_key).plot_pyramid)
        assert path is not None
        # ctime: the rename that stored it (after its fsync) changes it, later than the mtime.
        return float(path.stat().st_ctime)
    finally:
        context.db.dispose()


def _build_in_process(
    session: Session, csv: Path, capture_uuid: str, repeat: int
) -> dict[str, Any]:
    """The job's own work on the 85 MB CSV's columnar copy, beside the processing's own
    (``measure``: parse, statistics, columnar copy) of the same CSV, in this process, in turns:
    wall and CPU seconds. On a shared machine the CPU figures are the steadier ones."""
    from capturehub.ingest import measure, read_columnar
    from capturehub.server.models import Capture
    from capturehub.server.plots.pyramid import write_pyramid
    from capturehub.server.plots.window import channels_of
    from capturehub.server.storage_keys import CaptureFiles

    context = session.process.context()
    try:
        with context.db.read() as db:
            blob_key = db.query(Capture.blob_key).filter(Capture.uuid == capture_uuid).scalar()
        files = CaptureFiles.of(blob_key)
        sizes = {
            "pyramid_mb_85mb": context.blobs.size(files.plot_pyramid) / MB,
            "columnar_mb_85mb": context.blobs.size(files.columnar) / MB,
        }
    finally:
        context.db.dispose()
    walls: dict[str, list[float]] = {"measure": [], "build": []}
    cpus: dict[str, list[float]] = {"measure": [], "build": []}
    with tempfile.TemporaryDirectory() as folder:
        columnar_path = Path(folder) / "columnar.arrow"

        def timed(name: str, work: Callable[[], object]) -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            work()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)

        def build() -> None:
            columnar = read_columnar(columnar_path)
            write_pyramid(columnar, channels_of(columnar.schema), Path(folder) / "p.arrow")

        for _ in range(repeat):
            timed("measure", lambda: measure(csv, "csv", columnar_out=columnar_path))
            timed("build", build)
    median = statistics.median
    return {
        "pyramid_build_s": median(walls["build"]),
        "pyramid_build_runs": walls["build"],
        "pyramid_build_cpu_s": median(cpus["build"]),
        "measure_s": median(walls["measure"]),
        "measure_cpu_s": median(cpus["measure"]),
        "pyramid_build_cpu_vs_measure_cpu": median(
            b / m for b, m in zip(cpus["build"], cpus["measure"], strict=True)
        ),
        **sizes,
        "pyramid_size_vs_columnar": sizes["pyramid_mb_85mb"] / sizes["columnar_mb_85mb"],
    }


SECTION: Callable[[Path, str, dict[str, int], int], dict[str, Any]] = bench_plot
