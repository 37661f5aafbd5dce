"""The S3 blob store beside the embedded default (a folder), both measured in the same run.

A SeaweedFS (``weed`` from the dev extra) runs on this machine's loopback, so the figures
show what the store's protocol and the server's ranged reads cost, not a network: an S3 on
another machine adds its round trips and bandwidth. Processing runs in the server's in-process
workers for both stores (not Celery workers): the figure is S3 against a folder, the rest
equal. The ingest is also measured in the same turns through a third server storing in S3
whose jobs go to one `capturehub worker` (Celery on a redis-server of this run, one job
thread): the issue's "S3 + one Celery worker" layout.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.data import make_csv

if TYPE_CHECKING:
    from benchmarks.run import Session

MB = 1024 * 1024


def bench_s3(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    return _bench_s3(workdir, backend, sizes, repeat, ingest_only=False)


def bench_s3_ingest(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """Only the s3 section's ingest turns (local, S3, S3 + one Celery worker): the figure of
    the scale-out target, in a few minutes instead of the whole section's generated 544 MB
    capture and its reads."""
    return _bench_s3(workdir, backend, sizes, repeat, ingest_only=True)


def _bench_s3(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int, *, ingest_only: bool
) -> dict[str, Any]:
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
            with _celery_session(workdir, backend, folder, env) as celery:
                assert seaweedfs.process is not None
                results.update(
                    _ingest(workdir, sizes, repeat, local, s3, celery, seaweedfs.process.pid)
                )
            if not ingest_only:
                results.update(_data_and_ranges(workdir, sizes, repeat, local, s3))
        finally:
            local.close()
            s3.close()
    finally:
        seaweedfs.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return results


@contextmanager
def _celery_session(
    workdir: Path, backend: str, folder: Path, env: dict[str, str]
) -> Iterator[Session]:
    """A server storing in S3 whose jobs go to one `capturehub worker` (one job thread) on a
    redis-server of its own."""
    from benchmarks.run import Session
    from tests.cluster.support import OwnRedis, WorkerProcess

    broker = OwnRedis(folder / "redis")
    broker.start()
    session = Session(workdir, backend, env={**env, "CAPTUREHUB_BROKER_URL": broker.url})
    worker = WorkerProcess(session.process, broker.url, name="worker", concurrency=1)
    try:
        worker.start()
        yield session
    finally:
        worker.stop()
        session.close()
        broker.stop()


def _ingest(
    workdir: Path,
    sizes: dict[str, int],
    repeat: int,
    local: Session,
    s3: Session,
    celery: Session,
    seaweedfs_pid: int,
) -> dict[str, Any]:
    """The ingest section's CSV uploaded to SUCCESS, to each server in turn; beside each S3
    figure, the CPU seconds SeaweedFS spent per MB of the file (all its crossings of the
    store: the upload received, the original read back, the columnar copy stored)."""
    from benchmarks.recording_device_bench import cpu_seconds
    from benchmarks.run import interleaved, paired_ratio, settle

    csv = make_csv(workdir / "ingest.csv", sizes["ingest_rows"])
    size_mb = csv.stat().st_size / MB
    settle_bytes = 24 * csv.stat().st_size
    counter = iter(range(10_000))
    for session in (local, s3, celery):  # untimed: imports, pools, the first multipart upload
        session.wait(session.upload(csv, "warmup.csv")["uuid"])
    store_cpu: dict[str, list[float]] = {"s3": [], "s3_celery": []}

    def ingest(session: Session, store: str | None = None) -> Callable[[], float]:
        def run() -> float:
            settle(settle_bytes)
            before = cpu_seconds(seaweedfs_pid)
            mb_s = size_mb / session.ingest_seconds(csv, f"ingest-{next(counter)}.csv")
            if store is not None:
                store_cpu[store].append((cpu_seconds(seaweedfs_pid) - before) * 1000 / size_mb)
            return mb_s

        return run

    turns = interleaved(
        repeat,
        {
            "local_ingest_mb_s": ingest(local),
            "s3_ingest_mb_s": ingest(s3, "s3"),
            "s3_celery_ingest_mb_s": ingest(celery, "s3_celery"),
        },
    )
    return {
        "ingest_file_mb": round(size_mb, 1),
        **turns,
        "s3_seaweedfs_cpu_ms_per_mb": statistics.median(store_cpu["s3"]),
        "s3_celery_seaweedfs_cpu_ms_per_mb": statistics.median(store_cpu["s3_celery"]),
        "s3_ingest_vs_local": paired_ratio(turns, "s3_ingest_mb_s", "local_ingest_mb_s"),
        "s3_celery_ingest_vs_local": paired_ratio(
            turns, "s3_celery_ingest_mb_s", "local_ingest_mb_s"
        ),
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


class _Sampler:
    """Peaks of a process's anonymous and file-backed resident memory (RssAnon, RssFile of
    /proc/<pid>/status), sampled every 50 ms in a thread: VmHWM alone counts the pages of a
    memory-mapped file the process reads (the page cache, given back under pressure) the same
    as its own allocations."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid = pid
        self.peaks = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> dict[str, int]:
        from benchmarks.run import rss_kb

        return {field: rss_kb(self.pid, field) for field in self.peaks}

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                for field, value in self.current().items():
                    self.peaks[field] = max(self.peaks[field], value)
            except (OSError, RuntimeError):
                return

    def start(self) -> dict[str, int]:
        before = self.current()
        self.peaks = dict(before)
        self._thread.start()
        return before

    def take(self) -> dict[str, int]:
        """The peaks so far, then sampling starts again from the current values."""
        peaks = dict(self.peaks)
        self.peaks = self.current()
        return peaks

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def bench_s3_memory(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """Resident memory growth of a server storing in S3 (SeaweedFS on loopback) and of one
    `capturehub worker` (Celery on a redis-server of this run) while the memory section's big
    CSV (1 GB in full mode) is uploaded, processed by the worker, then its plot pyramid built
    (the worker's second job).

    Growth = VmHWM after the step - VmRSS before the upload, each process's peak reset to its
    RSS right before the upload (``clear_refs``, as the memory section does); the server's over
    the upload and the processing, the worker's at SUCCESS and after the pyramid. Beside it, the
    peak growth of anonymous memory (RssAnon, sampled every 50 ms): the pyramid job
    memory-maps its local copy of the columnar file, whose pages count in RSS as page cache.
    The client only polls the capture's state (a plot request before the pyramid exists
    would make the server read the columnar copy, which is not the step measured). After one
    warm-up upload and its processing and pyramid, so imports and pools are not counted."""
    from benchmarks.run import big_csv, rss_kb
    from benchmarks.sdk_client import reset_peak
    from tests.cluster.support import OwnRedis, WorkerProcess
    from tests.s3server import seaweedfs_missing, start_seaweedfs
    from tests.servers import new_server

    missing = seaweedfs_missing()
    if missing:
        return {"skipped": missing}
    big = big_csv(workdir, sizes["memory_bytes"])
    small = make_csv(workdir / "warmup.csv", 20_000)
    folder = Path(tempfile.mkdtemp(prefix="s3-memory-", dir=workdir))
    seaweedfs = start_seaweedfs(folder / "seaweedfs")
    broker = OwnRedis(folder / "redis")
    broker.start()
    bucket = seaweedfs.new_bucket()
    server = new_server(backend, folder / "server")
    server.env.update(
        {
            **seaweedfs.env(),
            "CAPTUREHUB_STORAGE_URL": f"s3://{bucket}/lab",
            "CAPTUREHUB_BROKER_URL": broker.url,
        }
    )
    worker = WorkerProcess(server, broker.url, name="worker", concurrency=1)
    session: Session | None = None
    samplers: list[_Sampler] = []
    try:
        from benchmarks.run import Session

        account = server.create_account("bench", "bench")
        server.start()
        worker.start()
        session = Session.attach(server, account, "bench")
        assert worker.process is not None
        pids = {"server": session.pid, "worker": worker.process.pid}
        s3 = seaweedfs.client()

        def pyramid_stored(uuid: str) -> None:
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:  # the worker's second job, seen in the bucket
                listed = s3.list_objects_v2(Bucket=bucket, Prefix="lab/").get("Contents", [])
                if any(uuid in o["Key"] and "plot-pyramid" in o["Key"] for o in listed):
                    return
                time.sleep(0.5)
            raise RuntimeError("no plot pyramid within 900 s")

        warm = session.upload(small, "warmup.csv")["uuid"]
        session.wait(warm, poll_seconds=0.5)
        pyramid_stored(warm)
        samplers = [_Sampler(pid) for pid in pids.values()]
        before = {name: rss_kb(pid) for name, pid in pids.items()}
        resets = [reset_peak(pid) for pid in pids.values()]
        anon_before = [sampler.start()["RssAnon"] for sampler in samplers]
        started = time.perf_counter()
        uuid = session.upload(big, "big.csv")["uuid"]
        upload_s = time.perf_counter() - started
        server_after_upload = rss_kb(pids["server"], "VmHWM")
        session.wait(uuid, poll_seconds=0.5)
        processed_s = time.perf_counter() - started
        at_success = {name: rss_kb(pid, "VmHWM") for name, pid in pids.items()}
        anon_at_success = [sampler.take()["RssAnon"] for sampler in samplers]
        pyramid_stored(uuid)
        total_s = time.perf_counter() - started
        peaks = {name: rss_kb(pid, "VmHWM") for name, pid in pids.items()}
        anon_pyramid = [sampler.take()["RssAnon"] for sampler in samplers]
    finally:
        for sampler in samplers:
            sampler.stop()
        if session is not None:
            session.api.close()
        worker.stop()
        server.close()
        broker.stop()
        seaweedfs.stop()
        shutil.rmtree(folder, ignore_errors=True)

    def mb(kb: int) -> float:
        return round(kb / 1024, 1)

    size_mb = big.stat().st_size / MB
    return {
        "file_mb": round(size_mb, 1),
        "peak_reset": all(resets),
        "server_baseline_mb": mb(before["server"]),
        "server_upload_growth_mb": mb(server_after_upload - before["server"]),
        "server_upload_and_processing_growth_mb": mb(at_success["server"] - before["server"]),
        "server_anon_growth_mb": mb(max(anon_at_success[0], anon_pyramid[0]) - anon_before[0]),
        "worker_baseline_mb": mb(before["worker"]),
        "worker_processing_growth_mb": mb(at_success["worker"] - before["worker"]),
        "worker_processing_anon_growth_mb": mb(anon_at_success[1] - anon_before[1]),
        "worker_with_pyramid_growth_mb": mb(peaks["worker"] - before["worker"]),
        "worker_pyramid_anon_growth_mb": mb(anon_pyramid[1] - anon_before[1]),
        "upload_mb_s": size_mb / upload_s,
        "upload_to_success_s": processed_s,
        "upload_to_plot_pyramid_s": total_s,
    }
