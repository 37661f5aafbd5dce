"""The S3 blob store beside the embedded default (a folder), both measured in the same run.

A SeaweedFS (``weed`` from the dev extra) runs on this machine's loopback, so the figures
show what the store's protocol and the server's ranged reads cost, not a network: an S3 on
another machine adds its round trips and bandwidth. Processing runs in the server's in-process
workers for both stores (not Celery workers): the figure is S3 against a folder, the rest
equal.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.data import make_csv

if TYPE_CHECKING:
    from benchmarks.run import Session

MB = 1024 * 1024


def bench_s3(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    from benchmarks.run import Session
    from tests.s3server import seaweedfs_missing, start_seaweedfs

    missing = seaweedfs_missing()
    if missing:
        return {"skipped": missing}
    folder = Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=workdir))
    seaweedfs = start_seaweedfs(folder)
    try:
        env = {**seaweedfs.env(), "CAPTUREHUB_STORAGE_URL": f"s3://{seaweedfs.new_bucket()}/lab"}
        local = Session(workdir, backend)
        s3 = Session(workdir, backend, env=env)
        try:
            results: dict[str, Any] = {}
            results.update(_ingest(workdir, sizes, repeat, local, s3))
            results.update(_data_and_ranges(workdir, sizes, repeat, local, s3))
        finally:
            local.close()
            s3.close()
    finally:
        seaweedfs.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return results


def _ingest(
    workdir: Path, sizes: dict[str, int], repeat: int, local: Session, s3: Session
) -> dict[str, Any]:
    """The ingest section's CSV uploaded to SUCCESS, to one server then the other, in turns."""
    from benchmarks.run import interleaved, paired_ratio, settle

    csv = make_csv(workdir / "ingest.csv", sizes["ingest_rows"])
    size_mb = csv.stat().st_size / MB
    settle_bytes = 24 * csv.stat().st_size
    counter = iter(range(10_000))
    for session in (local, s3):  # untimed: imports, pools, the first multipart upload
        session.wait(session.upload(csv, "warmup.csv")["uuid"])

    def ingest(session: Session) -> Callable[[], float]:
        def run() -> float:
            settle(settle_bytes)
            return size_mb / session.ingest_seconds(csv, f"ingest-{next(counter)}.csv")

        return run

    turns = interleaved(repeat, {"local_ingest_mb_s": ingest(local), "s3_ingest_mb_s": ingest(s3)})
    return {
        "ingest_file_mb": round(size_mb, 1),
        **turns,
        "s3_ingest_vs_local": paired_ratio(turns, "s3_ingest_mb_s", "local_ingest_mb_s"),
    }


def _data_and_ranges(
    workdir: Path, sizes: dict[str, int], repeat: int, local: Session, s3: Session
) -> dict[str, Any]:
    """get_data() of the data section's capture (10 M rows in full mode) and 1 MiB Range
    reads of its original, from each store, in turns."""
    from benchmarks.run import over_http, percentiles, settle

    rows = sizes["data_rows"]
    csv = make_csv(workdir / f"data-{rows}rows.csv", rows)
    warm_bytes = 3 * rows * 6 * 8 + 64 * MB
    captures = {}
    for name, session in (("local", local), ("s3", s3)):
        created = session.upload(csv, csv.name)
        session.wait(created["uuid"])
        captures[name] = created["uuid"]

    timings: dict[str, list[float]] = {"local": [], "local_http": [], "s3_http": []}
    clients = {"local": local.client(), "s3": s3.client()}
    try:
        handles = {
            name: clients[name].project.captures.get_capture_by_uuid(uuid)
            for name, uuid in captures.items()
        }
        for handle in handles.values():  # untimed warm-up
            assert handle is not None
            handle.get_data(start=0, end=1000)

        def timed(name: str, in_place: bool) -> float:
            handle = handles[name]
            assert handle is not None
            settle(warm_bytes)
            started = time.perf_counter()
            if in_place:
                frame = handle.get_data()
            else:
                with over_http(clients[name]):
                    frame = handle.get_data()
            elapsed = time.perf_counter() - started
            if len(frame) != rows:
                raise RuntimeError(f"get_data() from {name} answered {len(frame)} of {rows}")
            return elapsed

        for _ in range(repeat):
            timings["local"].append(timed("local", True))
            timings["local_http"].append(timed("local", False))
            timings["s3_http"].append(timed("s3", False))
        read_in_place = clients["local"].connection.reads_local_files
    finally:
        for client in clients.values():
            client.close()

    results: dict[str, Any] = {"data_rows": rows, "data_file_mb": round(csv.stat().st_size / MB, 1)}
    for name, values in timings.items():
        results[f"get_data_{name}_runs"] = values
        results[f"get_data_{name}_p50_s"] = statistics.median(values)
        results[f"get_data_{name}_p95_s"] = _p95(values)
    results["get_data_local_read_in_place"] = read_in_place
    results["get_data_s3_vs_local_http"] = statistics.median(
        s / h for s, h in zip(timings["s3_http"], timings["local_http"], strict=True)
    )

    size = csv.stat().st_size
    rng = random.Random(13)
    samples: dict[str, list[float]] = {"local": [], "s3": []}

    def range_read(name: str, session: Session) -> float:
        offset = rng.randrange(0, size - MB)
        url = session.file_url(captures[name])
        started = time.perf_counter()
        response = session.api.get(url, headers={"Range": f"bytes={offset}-{offset + MB - 1}"})
        elapsed = time.perf_counter() - started
        if response.status_code != 206 or len(response.content) != MB:
            raise RuntimeError(f"Range read from {name}: {response.status_code}")
        return elapsed

    for _ in range(5):  # warm the connections and the route
        range_read("local", local)
        range_read("s3", s3)
    for _ in range(sizes["range_requests"]):  # in turns
        samples["local"].append(range_read("local", local))
        samples["s3"].append(range_read("s3", s3))
    results["range_requests"] = sizes["range_requests"]
    for name, values in samples.items():
        for key, value in percentiles(values).items():
            results[f"range_{name}_{key}"] = value
    results["range_s3_vs_local_p50"] = results["range_s3_p50_ms"] / results["range_local_p50_ms"]
    return results


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
