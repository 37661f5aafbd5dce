"""capturehub benchmarks: one command, every figure beside a baseline measured in the same run.

    python -m benchmarks.run            # full sizes (minutes); figures for docs/performance.md
    python -m benchmarks.run --smoke    # small sizes (seconds); CI runs this
    python -m benchmarks.run --only load --load-clients 200 --load-seconds 300
    python -m benchmarks.run --only recording-ws --recording-ws-seconds 60

Prints a table and writes the figures as JSON (``--out``). Each figure is the median of
``--repeat`` runs. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from benchmarks.data import make_csv, make_csv_of_size, make_wav_of_size
from benchmarks.s3_bench import bench_s3, bench_s3_ingest, bench_s3_memory
from benchmarks.sdk_client import reset_peak
from tests.servers import Account, ServerProcess, free_port, new_server

if TYPE_CHECKING:
    from capturehub import Client

MB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    values = [measure() for _ in range(runs)]
    return statistics.median(values), values


def interleaved(runs: int, measures: dict[str, Callable[[], float]]) -> dict[str, Any]:
    """Each measure ``runs`` times, taking turns (a figure and its baseline meet the same load
    on a shared machine): ``{name: median, name_runs: [values]}``."""
    values: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(runs):
        for name, measure in measures.items():
            values[name].append(measure())
    figures: dict[str, Any] = {}
    for name, runs_of_name in values.items():
        figures[name] = statistics.median(runs_of_name)
        figures[f"{name}_runs"] = runs_of_name
    return figures


@contextmanager
def over_http(client: Client) -> Iterator[None]:
    """The SDK as on another machine: told it cannot read the server's files in place."""
    client.connection.reads_local_files = False
    try:
        yield
    finally:
        client.connection.reads_local_files = True


def paired_ratio(figures: dict[str, Any], name: str, baseline: str) -> float:
    """The median of the ratios of runs taken in the same turn (``interleaved``): steadier than
    the ratio of the two medians when the machine's speed swings from one turn to the next."""
    pairs = zip(figures[f"{name}_runs"], figures[f"{baseline}_runs"], strict=True)
    return statistics.median(value / base for value, base in pairs)


def settle(memory_bytes: int) -> None:
    """Bring every timed run of a section to the same start, not timed: ``sync`` (a run that
    meets the write-back of files just generated is throttled), then touch and free
    ``memory_bytes`` of memory.

    The second is for the project's machines, VMs whose balloon driver hands free guest pages
    back to the host a few seconds after they are freed: the next allocation of such a page
    costs a fault in the host, about 3 s per GB (touching 2 GB took 6.0 s, then 0.25 s when
    repeated at once, 5.6 s again after 15 s idle). A run that writes a 1 GB file into the
    page cache or builds a 500 MB DataFrame pays that or not depending on what ran in the
    seconds before it: a 1 GB ``cp`` took 3.7 s right after an upload to SUCCESS, 0.35 s
    repeated at once, 2.2 s three seconds later. Freed just before the run, these pages are
    what the run's allocations get.
    """
    import numpy as np

    os.sync()
    touched = np.ones(memory_bytes, dtype=np.uint8)
    del touched


def sized(workdir: Path, stem: str, size_bytes: int, suffix: str) -> Path:
    """A generated file's path naming its size (a cached file of another size is not reused)."""
    size = f"{size_bytes // MB}MB" if size_bytes % MB == 0 else f"{size_bytes}B"
    return workdir / f"{stem}-{size}{suffix}"


def big_csv(workdir: Path, size_bytes: int) -> Path:
    """The big CSV of the memory and download sections (one file when their sizes agree)."""
    return make_csv_of_size(sized(workdir, "big", size_bytes, ".csv"), size_bytes)


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found for {pid}")


class Session:
    """A running capturehub server with one logged-in account."""

    def __init__(self, workdir: Path, backend: str, env: dict[str, str] | None = None) -> None:
        self.server_dir = Path(tempfile.mkdtemp(prefix=f"server-{backend}-", dir=workdir))
        self.process: ServerProcess = new_server(backend, self.server_dir)
        self.process.env.update(env or {})  # e.g. CAPTUREHUB_STORAGE_URL
        self.account: Account = self.process.create_account("bench", "bench")
        self.process.start()
        self.token = httpx.post(
            self.process.url + "oauth/token/",
            data={
                "grant_type": "password",
                "username": self.account.username,
                "password": self.account.password,
            },
        ).json()["access_token"]
        self.api = self._api()
        self.project_name = "bench"
        self.project = self.api.post("project/", json={"name": self.project_name}).json()["uuid"]

    @classmethod
    def attach(cls, process: ServerProcess, account: Account, project_name: str) -> Session:
        """A session on a running server whose database has ``account`` and its project."""
        session = cls.__new__(cls)
        session.server_dir = process.data_dir
        session.process = process
        session.account = account
        session.token = process.token(account)
        session.api = session._api()
        session.project_name = project_name
        projects = session.api.get("project/").json()
        found = [project["uuid"] for project in projects if project["name"] == project_name]
        session.project = (
            found[0]
            if found
            else session.api.post("project/", json={"name": project_name}).json()["uuid"]
        )
        return session

    def _api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.process.url,
            timeout=600,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def restart(self) -> None:
        """Stop and start the server on its data (a fresh process: a fresh VmHWM)."""
        self.api.close()
        self.process.stop()
        self.process.start()
        self.api = self._api()

    def client(self) -> Client:
        """The SDK, logged in with username and password as a user would, project selected."""
        from capturehub import Client

        return Client(
            server=self.process.url,
            username=self.account.username,
            password=self.account.password,
            project=self.project_name,
        )

    def file_url(self, capture_uuid: str) -> str:
        return f"project/{self.project}/capture/{capture_uuid}/file/"

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    def upload(self, path: Path, name: str, asynchronous: bool = True) -> dict[str, Any]:
        with open(path, "rb") as handle:
            response = self.api.post(
                f"project/{self.project}/capture/",
                data={"name": name, "asynchronous": str(asynchronous)},
                files={"file": (path.name, handle)},
            )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def wait(self, capture_uuid: str, poll_seconds: float = 0.01) -> dict[str, Any]:
        while True:
            capture: dict[str, Any] = self.api.get(
                f"project/{self.project}/capture/{capture_uuid}/"
            ).json()
            if capture["task_state"] in ("SUCCESS", "FAILURE"):
                if capture["task_state"] == "FAILURE":
                    raise RuntimeError(capture["task_result"])
                return capture
            time.sleep(poll_seconds)

    def ingest_seconds(self, path: Path, name: str) -> float:
        """Upload ``path`` and return the seconds from the request to its ``SUCCESS``.

        The end is the capture's ``last_modified``, which the worker sets in the transaction
        that writes ``SUCCESS`` (the server runs on this machine, on the same clock). Polling
        can then be slow: a status request every 10 ms took ~15% off the figure (each one
        authenticates and reads the database beside the worker) and a slower poll would add
        its wait to the figure instead.
        """
        started = time.time()
        capture = self.wait(self.upload(path, name)["uuid"], poll_seconds=0.2)
        finished = datetime.fromisoformat(capture["last_modified"]).timestamp()
        return finished - started

    def close(self) -> None:
        self.api.close()
        self.process.close()
        shutil.rmtree(self.server_dir, ignore_errors=True)


# Memory touched and freed before each timed ingest run (see settle), per byte of the file:
# more than one upload's processing or one reference run allocates (2 GB for the 85 MB CSV).
INGEST_SETTLE_FACTOR = 24


def bench_ingest(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    csv = make_csv(workdir / "ingest.csv", sizes["ingest_rows"])
    size_mb = csv.stat().st_size / MB
    parallel = [
        make_csv_of_size(
            sized(workdir, f"parallel-{index}", sizes["parallel_bytes"], ".csv"),
            sizes["parallel_bytes"],
            seed=100 + index,
        )
        for index in range(sizes["parallel_uploads"])
    ]
    wav = make_wav_of_size(sized(workdir, "ingest", sizes["wav_bytes"], ".wav"), sizes["wav_bytes"])
    wav_mb = wav.stat().st_size / MB
    results: dict[str, Any] = {"file_mb": round(size_mb, 1), "rows": sizes["ingest_rows"]}
    settle_bytes = INGEST_SETTLE_FACTOR * max(csv.stat().st_size, wav.stat().st_size)

    # Baseline 1: the same bytes streamed over loopback HTTP to a do-nothing ASGI app.
    port = free_port()
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.sink:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
    )
    try:
        for _ in range(100):
            try:
                httpx.post(f"http://127.0.0.1:{port}/", content=b"x")
                break
            except httpx.TransportError:
                time.sleep(0.1)

        def raw_stream() -> float:
            started = time.perf_counter()
            with open(csv, "rb") as handle:
                httpx.post(f"http://127.0.0.1:{port}/", content=handle, timeout=600)
            return size_mb / (time.perf_counter() - started)

        results["raw_http_mb_s"], _ = median_of(repeat, raw_stream)
    finally:
        sink.terminate()
        sink.wait()

    # Baseline 2: the reference server's path as a plain function (parse with pandas, write
    # the CSV back with a sequence index, copy it).
    def reference() -> float:
        import pandas as pd

        settle(settle_bytes)
        started = time.perf_counter()
        frame = pd.read_csv(csv)
        rewritten = workdir / "reference.csv"
        frame.to_csv(rewritten, index_label="sequence")
        shutil.copy(rewritten, workdir / "reference-copy.csv")
        elapsed = time.perf_counter() - started
        del frame
        rewritten.unlink()
        (workdir / "reference-copy.csv").unlink()
        return size_mb / elapsed

    session = Session(workdir, backend)
    try:
        counter = iter(range(10_000))
        # One untimed upload first: the figure is the steady state, not the first request's
        # imports and pool start-up.
        session.wait(session.upload(csv, "warmup.csv")["uuid"])

        def ingest() -> float:
            settle(settle_bytes)
            return size_mb / session.ingest_seconds(csv, f"ingest-{next(counter)}.csv")

        # In turns with the reference, each run from settle(): the figure used to depend on
        # what ran just before it (the reference's freed gigabytes, the previous upload's
        # write-back) and moved by a third from one run of this section to the next.
        turns = interleaved(repeat, {"reference_mb_s": reference, "ingest_mb_s": ingest})
        results["reference_mb_s"] = turns["reference_mb_s"]
        results["ingest_mb_s"] = turns["ingest_mb_s"]
        results["ingest_runs"] = turns["ingest_mb_s_runs"]
        results["ingest_vs_reference"] = paired_ratio(turns, "ingest_mb_s", "reference_mb_s")
        results.update(bench_parallel_ingest(session, parallel, repeat))

        def ingest_wav() -> float:
            settle(settle_bytes)
            return wav_mb / session.ingest_seconds(wav, f"ingest-{next(counter)}.wav")

        results["wav_file_mb"] = round(wav_mb, 1)
        results["wav_ingest_mb_s"], results["wav_ingest_runs"] = median_of(repeat, ingest_wav)
    finally:
        session.close()
    results["ingest_vs_raw_http"] = results["ingest_mb_s"] / results["raw_http_mb_s"]
    results["wav_ingest_vs_raw_http"] = results["wav_ingest_mb_s"] / results["raw_http_mb_s"]
    return results


def bench_parallel_ingest(session: Session, files: list[Path], repeat: int) -> dict[str, Any]:
    """Several uploads at once, each to SUCCESS: the aggregate rate (all bytes / the wall time
    from the first request to the last SUCCESS), beside one upload of one of the files alone,
    the two taking turns."""
    file_mb = files[0].stat().st_size / MB
    total_mb = sum(path.stat().st_size for path in files) / MB
    counter = iter(range(10_000))

    def single() -> float:
        started = time.perf_counter()
        session.wait(session.upload(files[0], f"single-{next(counter)}.csv")["uuid"])
        return file_mb / (time.perf_counter() - started)

    def parallel() -> float:
        run = next(counter)
        started = time.perf_counter()
        with ThreadPoolExecutor(len(files)) as pool:
            created = list(
                pool.map(
                    lambda item: session.upload(item[1], f"parallel-{run}-{item[0]}.csv"),
                    enumerate(files),
                )
            )
        # Polled one after the other (one poll at a time, as for a single upload): the loop
        # ends when the last one is seen at SUCCESS, whichever finishes first.
        for capture in created:
            session.wait(capture["uuid"])
        return total_mb / (time.perf_counter() - started)

    figures = interleaved(repeat, {"parallel_ingest_mb_s": parallel, "single_mb_s": single})
    return {
        "parallel_uploads": len(files),
        "parallel_file_mb": round(file_mb, 1),
        "parallel_ingest_mb_s": figures["parallel_ingest_mb_s"],
        "parallel_ingest_runs": figures["parallel_ingest_mb_s_runs"],
        "parallel_single_mb_s": figures["single_mb_s"],
        "parallel_single_runs": figures["single_mb_s_runs"],
        "parallel_vs_single": figures["parallel_ingest_mb_s"] / figures["single_mb_s"],
    }


def run_sdk_client(
    session: Session, arguments: list[str], when_ready: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Run ``benchmarks/sdk_client.py`` (the SDK in a process of its own) against the session's
    server: it warms up, says it is ready, ``when_ready`` runs, then the child makes its big
    transfer and answers its figures (see that module)."""
    env = {key: value for key, value in os.environ.items() if key != "CAPTUREHUB_API_KEY"}
    env.update(
        CAPTUREHUB_SERVER=session.process.url,
        CAPTUREHUB_USERNAME=session.account.username,
        CAPTUREHUB_PASSWORD=session.account.password,
    )
    command = [sys.executable, "-m", "benchmarks.sdk_client", *arguments]
    command += ["--project", session.project_name]
    with subprocess.Popen(
        command, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"sdk_client {arguments[0]} exited early ({child.wait()})")
        when_ready(json.loads(line))
        child.stdin.write("go\n")
        child.stdin.flush()
        output = child.stdout.read()
        code = child.wait()
    if code:
        raise RuntimeError(f"sdk_client {arguments[0]} failed ({code}): {output[-2000:]}")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def bench_memory(workdir: Path, backend: str, sizes: dict[str, int]) -> dict[str, Any]:
    """Resident memory growth of the server and of the SDK while a big CSV is uploaded through
    the SDK, processed, then downloaded through the SDK (a fresh server; the SDK in a child).

    Growth = VmHWM (the peak) after the step - VmRSS before it. VmHWM is a high-water mark
    since the process started, so taken as it is it would also hold the start-up's and
    warm-ups' peaks, and the processing's peak in the download's figure. So right before each
    measured step both processes (our own children) reset their peak to their current RSS by
    writing 5 to /proc/<pid>/clear_refs (Linux 4.0+); the SDK child does it to itself after
    its warm-up (benchmarks/sdk_client.py). Where the kernel refuses that (``peak_reset``
    false): the server is restarted before the download (a fresh VmHWM, warmed by the child's
    small download) and each figure is then HWM after - RSS before with HWM counted from the
    process start: an upper bound, off by at most hwm_before - rss_before, which the JSON
    shows (``*_hwm_slack_mb``).
    """
    big = big_csv(workdir, sizes["memory_bytes"])
    small = make_csv(workdir / "warmup.csv", 20_000)
    outdir = workdir / "memory-downloads"
    session = Session(workdir, backend)
    server: dict[str, int] = {}

    def server_before(step: str) -> None:
        server[f"{step}_reset"] = reset_peak(session.pid)
        server[f"{step}_rss"] = rss_kb(session.pid)
        server[f"{step}_hwm"] = rss_kb(session.pid, "VmHWM")

    try:
        # Warm up with a small file (uploaded, processed, downloaded) so one-time costs
        # (imports, pools, caches) are not counted as growth caused by the big transfers.
        warm = session.upload(small, "warmup.csv")["uuid"]
        session.wait(warm)
        session.api.get(session.file_url(warm)).raise_for_status()

        def upload_ready(ready: dict[str, Any]) -> None:
            session.wait(ready["warmup_uuid"])  # the SDK's warm-up upload, processed
            server_before("upload")

        upload = run_sdk_client(
            session,
            ["upload", "--file", str(big), "--name", "big.csv", "--warmup", str(small)],
            upload_ready,
        )
        after_upload_peak = rss_kb(session.pid, "VmHWM")
        session.wait(upload["uuid"])
        after_processing_peak = rss_kb(session.pid, "VmHWM")

        if not server["upload_reset"]:
            session.restart()  # the peak cannot be reset: start from a fresh process's
        download = run_sdk_client(
            session,
            # Over HTTP: the path where both processes hold the bytes on their way (copied in
            # place, the file never passes through either).
            [
                "download",
                "--over-http",
                "--uuid",
                upload["uuid"],
                "--warmup-uuid",
                warm,
                "--outdir",
                str(outdir),
            ],
            lambda ready: server_before("download"),
        )
        after_download_peak = rss_kb(session.pid, "VmHWM")
    finally:
        session.close()
        shutil.rmtree(outdir, ignore_errors=True)

    def mb(kb: int) -> float:
        return round(kb / 1024, 1)

    resets = [server["upload_reset"], server["download_reset"]]
    resets += [upload["peak_reset"], download["peak_reset"]]
    figures: dict[str, Any] = {
        "file_mb": round(big.stat().st_size / MB, 1),
        "peak_reset": all(resets),
        "server_baseline_mb": mb(server["upload_rss"]),
        "server_upload_growth_mb": mb(after_upload_peak - server["upload_rss"]),
        "server_upload_and_processing_growth_mb": mb(after_processing_peak - server["upload_rss"]),
        "server_download_growth_mb": mb(after_download_peak - server["download_rss"]),
        "sdk_baseline_mb": mb(upload["rss_before_kb"]),
        "sdk_upload_growth_mb": mb(upload["hwm_after_kb"] - upload["rss_before_kb"]),
        "sdk_download_growth_mb": mb(download["hwm_after_kb"] - download["rss_before_kb"]),
        "sdk_upload_mb_s": upload["bytes"] / MB / upload["seconds"],
        "sdk_download_mb_s": download["bytes"] / MB / download["seconds"],
    }
    if not all(resets):  # the figures are upper bounds, by at most this much
        figures["server_hwm_slack_mb"] = mb(
            max(server[f"{step}_hwm"] - server[f"{step}_rss"] for step in ("upload", "download"))
        )
        figures["sdk_hwm_slack_mb"] = mb(
            max(child["hwm_before_kb"] - child["rss_before_kb"] for child in (upload, download))
        )
    return figures


def bench_download(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """A big capture downloaded through the SDK (``Capture.download``), beside ``cp`` of the
    same file on the same disk. The SDK runs on the server's machine, so it copies the stored
    file in place; ``download()`` over HTTP (what a client on another machine gets) and the
    raw HTTP body read by httpx and thrown away (what the server alone can send) are measured
    too. Then 1 MiB ``Range`` reads at random offsets.

    Every timed run starts from :func:`settle` (not timed), so that neither the write-back of
    the gigabytes just written nor the VM's cold pages decide which of the three is faster.
    """
    big = big_csv(workdir, sizes["download_bytes"])
    size = big.stat().st_size
    size_mb = size / MB
    warm_bytes = size + 256 * MB  # the destination's page cache, and buffers
    outdir = workdir / "downloads"
    copy = workdir / "cp-copy.csv"
    session = Session(workdir, backend)
    try:
        created = session.upload(big, "download.csv")
        session.wait(created["uuid"])
        url = session.file_url(created["uuid"])
        with session.client() as client:
            capture = client.project.captures.get_capture_by_uuid(created["uuid"])
            assert capture is not None

            def sdk_over_http() -> float:
                with over_http(client):
                    return sdk()

            def sdk() -> float:
                settle(warm_bytes)
                started = time.perf_counter()
                path = capture.download(outdir)
                elapsed = time.perf_counter() - started
                written = path.stat().st_size
                path.unlink()
                if written != size:
                    raise RuntimeError(f"the SDK downloaded {written} bytes of {size}")
                return size_mb / elapsed

            def cp() -> float:
                # The source stays in the page cache after the first run (it was read by the
                # upload just before); the destination is a new file every time.
                settle(warm_bytes)
                started = time.perf_counter()
                subprocess.run(["cp", str(big), str(copy)], check=True)
                elapsed = time.perf_counter() - started
                copy.unlink()
                return size_mb / elapsed

            def raw_http() -> float:
                received = 0
                settle(warm_bytes)
                started = time.perf_counter()
                with session.api.stream("GET", url) as response:
                    response.raise_for_status()
                    for chunk in response.iter_raw():
                        received += len(chunk)
                elapsed = time.perf_counter() - started
                if received != size:
                    raise RuntimeError(f"the raw download got {received} bytes of {size}")
                return size_mb / elapsed

            figures = interleaved(
                repeat,
                {
                    "cp_mb_s": cp,
                    "download_mb_s": sdk,
                    "download_http_mb_s": sdk_over_http,
                    "raw_http_mb_s": raw_http,
                },
            )
            copied_in_place = client.connection.reads_local_files

        rng = random.Random(13)
        length = MB

        def range_read() -> float:
            offset = rng.randrange(0, size - length)
            started = time.perf_counter()
            response = session.api.get(
                url, headers={"Range": f"bytes={offset}-{offset + length - 1}"}
            )
            elapsed = time.perf_counter() - started
            if response.status_code != 206 or len(response.content) != length:
                raise RuntimeError(
                    f"Range read at {offset}: {response.status_code}, {len(response.content)} bytes"
                )
            return elapsed

        for _ in range(5):  # warm the connection and the route
            range_read()
        samples = [range_read() for _ in range(sizes["range_requests"])]
    finally:
        session.close()
        shutil.rmtree(outdir, ignore_errors=True)
        copy.unlink(missing_ok=True)
    results: dict[str, Any] = {"file_mb": round(size_mb, 1), **figures}
    results["download_vs_cp"] = results["download_mb_s"] / results["cp_mb_s"]
    results["download_vs_cp_paired"] = paired_ratio(results, "download_mb_s", "cp_mb_s")
    results["download_http_vs_cp"] = results["download_http_mb_s"] / results["cp_mb_s"]
    results["download_http_vs_cp_paired"] = paired_ratio(results, "download_http_mb_s", "cp_mb_s")
    # True when download() copied the stored file in place (it should, on one machine).
    results["download_copied_in_place"] = copied_in_place
    results["raw_http_vs_cp"] = results["raw_http_mb_s"] / results["cp_mb_s"]
    results["download_http_vs_raw_http"] = results["download_http_mb_s"] / results["raw_http_mb_s"]
    results["range_requests"] = sizes["range_requests"]
    results["range_bytes"] = length
    for key, value in percentiles(samples).items():
        results[f"range_read_{key}"] = value
    return results


def bench_data(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    """``Capture.get_data()`` of a whole capture through the SDK, beside pandas ``read_csv`` of
    the original CSV. The SDK runs on the server's machine, so it reads the columnar copy in
    place (memory-mapped); ``get_data()`` over HTTP (Arrow on the wire, what a client on
    another machine gets) and the Arrow stream read raw by httpx (what the server alone takes)
    are measured too. Each timed run starts from :func:`settle` (room for the Arrow table and
    the DataFrame)."""
    import pandas as pd

    rows = sizes["data_rows"]
    warm_bytes = 3 * rows * 6 * 8 + 64 * MB
    csv = make_csv(workdir / f"data-{rows}rows.csv", rows)
    session = Session(workdir, backend)
    try:
        created = session.upload(csv, csv.name)
        session.wait(created["uuid"])
        data_url = f"project/{session.project}/capture/{created['uuid']}/data/"
        with session.client() as client:
            capture = client.project.captures.get_capture_by_uuid(created["uuid"])
            assert capture is not None
            # Warm-ups, not timed: imports, the connection, pandas' and pyarrow's first calls.
            capture.get_data(start=0, end=1000)
            pd.read_csv(csv, nrows=1000)

            def get_data() -> float:
                settle(warm_bytes)
                started = time.perf_counter()
                frame = capture.get_data()
                elapsed = time.perf_counter() - started
                if len(frame) != rows:
                    raise RuntimeError(f"get_data() answered {len(frame)} rows of {rows}")
                return elapsed

            def get_data_http() -> float:
                with over_http(client):
                    return get_data()

            def read_csv() -> float:
                settle(warm_bytes)
                started = time.perf_counter()
                frame = pd.read_csv(csv)
                elapsed = time.perf_counter() - started
                if len(frame) != rows:
                    raise RuntimeError(f"read_csv answered {len(frame)} rows of {rows}")
                return elapsed

            def raw_http() -> float:
                # The same Arrow stream read by httpx and thrown away: the server's share.
                settle(warm_bytes)
                started = time.perf_counter()
                with session.api.stream("GET", data_url) as response:
                    response.raise_for_status()
                    for _chunk in response.iter_raw():
                        pass
                return time.perf_counter() - started

            figures = interleaved(
                repeat,
                {
                    "get_data_s": get_data,
                    "read_csv_s": read_csv,
                    "get_data_http_s": get_data_http,
                    "data_raw_http_s": raw_http,
                },
            )
            read_in_place = client.connection.reads_local_files
    finally:
        session.close()
    return {
        "rows": rows,
        "channels": 6,
        "file_mb": round(csv.stat().st_size / MB, 1),
        **figures,
        # How many times faster get_data() is than read_csv (> 1: faster).
        "get_data_vs_read_csv": figures["read_csv_s"] / figures["get_data_s"],
        "get_data_vs_read_csv_paired": paired_ratio(figures, "read_csv_s", "get_data_s"),
        "get_data_http_vs_read_csv": figures["read_csv_s"] / figures["get_data_http_s"],
        # True when get_data() read the columnar copy in place (it should, on one machine).
        "get_data_read_in_place": read_in_place,
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    }


# Cursor pages read from each random starting point before drawing another.
PAGES_FOLLOWED = 5


class CursorWalk:
    """Pages read by following ``next_cursor``, PAGES_FOLLOWED from each starting query."""

    def __init__(self, api: httpx.Client, path: str, start: Callable[[], dict[str, Any]]) -> None:
        self.api, self.path, self.start = api, path, start
        self.params: dict[str, Any] | None = None
        self.left = 0

    def __call__(self) -> httpx.Response:
        if self.params is None or self.left == 0:
            self.params, self.left = self.start(), PAGES_FOLLOWED
        response = self.api.get(self.path, params=self.params)
        cursor = response.json()["next_cursor"] if response.is_success else None
        self.left -= 1
        self.params = None if cursor is None else {**self.params, "after": cursor}
        return response


def bench_lookups(workdir: Path, backend: str, sizes: dict[str, int]) -> dict[str, Any]:
    """Latency of the capture routes a UI or script calls most, on a big project: a page by
    cursor (from random starting points) and, for comparison, at a random offset; a capture
    by name and by uuid; a metadata-filtered page (its count bounded, by cursor, and exact)."""
    import random

    from benchmarks.lookup_scale import (
        close_loaded_project,
        open_loaded_project,
        random_cursors,
    )

    captures = sizes["lookup_captures"]
    server_dir = Path(tempfile.mkdtemp(prefix="lookups-", dir=workdir))
    loaded = open_loaded_project(
        backend,
        server_dir,
        captures,
        set_based=bool(sizes.get("lookup_set_based")),
        reload=bool(sizes.get("lookup_reload")),
    )
    process, api, project, uuids = loaded.process, loaded.api, loaded.project, loaded.uuids
    try:
        base = f"project/{project}/capture/"
        rng = random.Random(11)
        filtered = {"metadata.Age__gte": "30", "limit": 100}

        def subject() -> dict[str, Any]:
            return {**filtered, "metadata.Subject": f"S{rng.randrange(40):02d}"}

        # Cursor pages: from a random starting point, then following next_cursor for a few
        # pages (as a client reading on does); every request is one sample.
        starts = iter(random_cursors(process, project, sizes["lookup_requests"] + 10))
        cursor_page = CursorWalk(api, base, lambda: {"limit": 100, "after": next(starts)})
        filtered_cursor_page = CursorWalk(api, base, lambda: {**subject(), "after": ""})

        requests: dict[str, Callable[[], httpx.Response]] = {
            "page_of_100_cursor": cursor_page,
            "page_of_100_random_offset": lambda: api.get(
                base, params={"limit": 100, "offset": rng.randrange(0, captures - 100)}
            ),
            "get_by_name": lambda: api.get(
                base, params={"name": f"capture-{rng.randrange(captures):05d}.csv"}
            ),
            "get_by_uuid": lambda: api.get(f"{base}{rng.choice(uuids)}/"),
            # The count bounded (exact up to 5,000 matches, "at least" beyond).
            "metadata_filtered_page": lambda: api.get(base, params=subject()),
            "metadata_filtered_page_cursor": filtered_cursor_page,
            # The same page asked with its exact count (fewer samples: it is the slow one).
            "metadata_filtered_page_count_exact": lambda: api.get(
                base, params={**subject(), "count": "exact"}
            ),
        }
        results: dict[str, Any] = {"captures": captures}
        for name, request in requests.items():
            for _ in range(10):  # warm the caches and the connection pool
                request().raise_for_status()
            samples = []
            wanted = sizes["lookup_requests"]
            if name.endswith("count_exact"):
                wanted = max(10, wanted // 4)
            for _ in range(wanted):
                started = time.perf_counter()
                request().raise_for_status()
                samples.append(time.perf_counter() - started)
            for key, value in percentiles(samples).items():
                results[f"{name}_{key}"] = value
        results["database_kept"] = loaded.kept
        return results
    finally:
        close_loaded_project(loaded)
        shutil.rmtree(server_dir, ignore_errors=True)


def bench_statistics(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    from benchmarks.stats_bench import logged_in, seed_project

    server_dir = Path(tempfile.mkdtemp(prefix="statistics-", dir=workdir))
    process = new_server(backend, server_dir)
    try:
        api = logged_in(process)
        project, _uuids, _label = seed_project(
            process, api, sizes["stats_captures"], sizes["stats_segments"]
        )

        def route() -> float:
            started = time.perf_counter()
            api.get(f"project/{project}/statistics/").raise_for_status()
            return time.perf_counter() - started

        route()
        seconds, runs = median_of(repeat, route)
        api.close()
        return {
            "captures": sizes["stats_captures"],
            "segments": sizes["stats_segments"],
            "statistics_s": seconds,
            "statistics_runs": runs,
        }
    finally:
        process.close()
        shutil.rmtree(server_dir, ignore_errors=True)


def bench_load(workdir: Path, backend: str, sizes: dict[str, int]) -> dict[str, Any]:
    """Many clients at once, each on its own connection, for a while: the capture list (pages
    of 100), one capture, a metadata-filtered page and small uploads, mixed 35/35/20/10. The
    figures: answers per second, how many were errors (anything but a 2xx, or no answer), and
    the latency percentiles over every request. The server runs with its default settings."""
    import random
    import threading

    from benchmarks.stats_bench import logged_in, seed_project

    captures = sizes["load_captures"]
    clients = sizes["load_clients"]
    seconds = sizes["load_seconds"]
    server_dir = Path(tempfile.mkdtemp(prefix="load-", dir=workdir))
    process = new_server(backend, server_dir)
    try:
        api = logged_in(process)
        project, uuids, _label = seed_project(
            process, api, captures, 0, set_based=bool(sizes.get("lookup_set_based"))
        )
        base = f"project/{project}/capture/"
        headers = dict(api.headers)
        api.close()
        samples: list[tuple[str, float, bool]] = []
        lock = threading.Lock()
        ready = threading.Barrier(clients + 1)
        stop = threading.Event()

        def client(index: int) -> None:
            rng = random.Random(index)
            done: list[tuple[str, float, bool]] = []
            uploads = 0
            with httpx.Client(base_url=process.url, headers=headers, timeout=120) as http:
                ready.wait()
                while not stop.is_set():
                    pick = rng.random()
                    started = time.perf_counter()
                    try:
                        if pick < 0.35:
                            kind = "list"
                            offset = rng.randrange(0, max(captures - 100, 1))
                            answer = http.get(base, params={"limit": 100, "offset": offset})
                        elif pick < 0.70:
                            kind = "get"
                            answer = http.get(f"{base}{rng.choice(uuids)}/")
                        elif pick < 0.90:
                            kind = "metadata"
                            answer = http.get(
                                base,
                                params={
                                    "metadata.Subject": f"S{rng.randrange(40):02d}",
                                    "metadata.Age__gte": "30",
                                    "limit": 100,
                                },
                            )
                        else:
                            kind = "upload"
                            uploads += 1
                            name = f"load-{index}-{uploads}.csv"
                            answer = http.post(
                                base,
                                data={"name": name},
                                files={"file": (name, b"a,b,c\n1,2,3\n4,5,6\n7,8,9\n")},
                            )
                        ok = answer.is_success
                    except httpx.TransportError:
                        ok = False
                    done.append((kind, time.perf_counter() - started, ok))
            with lock:
                samples.extend(done)

        threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
        for thread in threads:
            thread.start()
        ready.wait()
        started = time.perf_counter()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        process.close()
        shutil.rmtree(server_dir, ignore_errors=True)
    latencies = sorted(latency for _kind, latency, _ok in samples)

    def at(fraction: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * fraction))]

    results: dict[str, Any] = {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "captures": captures,
        "requests": len(samples),
        "errors": sum(1 for _kind, _latency, ok in samples if not ok),
        "requests_per_s": len(samples) / elapsed,
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
    }
    for kind in ("list", "get", "metadata", "upload"):
        of_kind = [latency for name, latency, _ok in samples if name == kind]
        if of_kind:
            results[f"{kind}_p95_ms"] = percentiles(of_kind)["p95_ms"]
    return results


def bench_cluster(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """4 parallel uploads through 2 servers (CAPTUREHUB_BROKER_URL, no processing threads)
    with 2 `capturehub worker` processes of one job thread each, on Redis (a redis-server of
    this run) and one shared database and data folder; beside the same uploads to one
    embedded server (its 2 processing threads), the two taking turns. Aggregate MB/s: all
    bytes / the time from the first request to the last SUCCESS."""
    from tests.cluster.support import OwnRedis, WorkerProcess

    files = [
        make_csv_of_size(
            sized(workdir, f"cluster-{index}", sizes["parallel_bytes"], ".csv"),
            sizes["parallel_bytes"],
            seed=200 + index,
        )
        for index in range(sizes["parallel_uploads"])
    ]
    total_mb = sum(path.stat().st_size for path in files) / MB
    counter = iter(range(10_000))

    def parallel(sessions: list[Session]) -> float:
        run = next(counter)
        started = time.perf_counter()
        with ThreadPoolExecutor(len(files)) as pool:
            created = list(
                pool.map(
                    lambda item: (
                        sessions[item[0] % len(sessions)],
                        sessions[item[0] % len(sessions)].upload(
                            item[1], f"parallel-{run}-{item[0]}.csv"
                        ),
                    ),
                    enumerate(files),
                )
            )
        for session, capture in created:
            session.wait(capture["uuid"])
        return total_mb / (time.perf_counter() - started)

    embedded = Session(workdir, backend)
    redis_dir = Path(tempfile.mkdtemp(prefix="redis-", dir=workdir))
    broker = OwnRedis(redis_dir)
    broker.start()
    cluster_dir = Path(tempfile.mkdtemp(prefix=f"cluster-{backend}-", dir=workdir))
    first = new_server(backend, cluster_dir)
    database_url = first.database_url or f"sqlite:///{(cluster_dir / 'capturehub.db').resolve()}"
    # Both servers on one database and one data folder (the blob store the workers read).
    second = ServerProcess(backend=backend, data_dir=cluster_dir, database_url=database_url)
    for server in (first, second):
        server.env["CAPTUREHUB_BROKER_URL"] = broker.url
    workers = [
        WorkerProcess(first, broker.url, name=f"worker-{index}", concurrency=1) for index in (1, 2)
    ]
    sessions: list[Session] = []
    try:
        account = first.create_account("bench", "bench")
        for server in (first, second):
            server.start()
        for worker in workers:
            worker.start()
        sessions = [Session.attach(server, account, "bench") for server in (first, second)]
        # One untimed round each: imports, pools and the workers' first connections.
        parallel(sessions)
        parallel([embedded])
        figures = interleaved(
            repeat,
            {
                "cluster_mb_s": lambda: parallel(sessions),
                "embedded_mb_s": lambda: parallel([embedded]),
            },
        )
    finally:
        for session in sessions:
            session.api.close()
        for worker in workers:
            worker.stop()
        second.stop()
        first.close()
        broker.stop()
        embedded.close()
        shutil.rmtree(cluster_dir, ignore_errors=True)
        shutil.rmtree(redis_dir, ignore_errors=True)
    return {
        "uploads": len(files),
        "file_mb": round(total_mb / len(files), 1),
        "cluster_mb_s": figures["cluster_mb_s"],
        "cluster_runs": figures["cluster_mb_s_runs"],
        "embedded_mb_s": figures["embedded_mb_s"],
        "embedded_runs": figures["embedded_mb_s_runs"],
        "cluster_vs_embedded": paired_ratio(figures, "cluster_mb_s", "embedded_mb_s"),
    }


SIZES = {
    "full": {
        "ingest_rows": 1_500_000,
        "recording_ws_recordings": 100,
        "recording_ws_seconds": 300,
        "parallel_uploads": 4,
        "parallel_bytes": 20 * MB,
        "wav_bytes": 100 * MB,
        "memory_bytes": 1024 * MB,
        "download_bytes": 1024 * MB,
        "range_requests": 200,
        "data_rows": 10_000_000,
        "lookup_captures": 100_000,
        "lookup_requests": 200,
        "stats_captures": 10_000,
        "edge_impulse_files": 1000,
        "stats_segments": 100_000,
        "load_captures": 1_000,
        "load_clients": 200,
        "load_seconds": 300,
        "plot_requests": 100,
        "version_captures": 100_000,
        "version_segments": 1_000_000,
        "recording_mqtt_devices": 50,
        "recording_mqtt_seconds": 120,
        "recording_device_seconds": 60,
        "recording_mqtt_batch_ms": 200,
    },
    "smoke": {
        "ingest_rows": 20_000,
        "recording_ws_recordings": 3,
        "recording_ws_seconds": 3,
        "parallel_uploads": 4,
        "parallel_bytes": 1 * MB,
        "wav_bytes": 2 * MB,
        "memory_bytes": 20 * MB,
        "download_bytes": 20 * MB,
        "range_requests": 20,
        "data_rows": 100_000,
        "lookup_captures": 1_000,
        "lookup_requests": 20,
        "stats_captures": 200,
        "edge_impulse_files": 20,
        "stats_segments": 2_000,
        "load_captures": 200,
        "load_clients": 10,
        "load_seconds": 3,
        "plot_requests": 5,
        "version_captures": 500,
        "version_segments": 5_000,
        "recording_mqtt_devices": 3,
        "recording_mqtt_seconds": 3,
        "recording_device_seconds": 2,
        "recording_mqtt_batch_ms": 200,
    },
}


def bench_plot(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    """The plot window and its min/max pyramid: benchmarks/plot_bench.py."""
    from benchmarks.plot_bench import bench_plot as run  # it imports this module

    return run(workdir, backend, sizes, repeat)


def bench_recording_ws(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """100 WebSocket recordings at 100 Hz × 6 channels: benchmarks/recording_ws_bench.py."""
    from benchmarks.recording_ws_bench import bench_recording_ws as run

    return run(workdir, backend, sizes, repeat)


def bench_ui(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    """The web UI in headless Chromium: benchmarks/ui_bench.py."""
    from benchmarks.ui_bench import bench_ui as run_ui

    return run_ui(workdir, backend, sizes, repeat)


def bench_recording_mqtt(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """50 MQTT devices and a 16 kHz audio recording at once: benchmarks/recording_mqtt_bench.py."""
    from benchmarks.recording_mqtt_bench import bench_recording_mqtt as run_recording_mqtt

    return run_recording_mqtt(workdir, backend, sizes, repeat)


def bench_versions(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """Dataset versions: create, rows on disk, diff, windows: benchmarks/versions_bench.py."""
    from benchmarks.versions_bench import bench_versions as run_versions

    return run_versions(workdir, backend, sizes, repeat)


def bench_edge_impulse(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """1,000 small files in one Edge Impulse ingestion request: benchmarks/edge_impulse_bench.py."""
    from benchmarks.edge_impulse_bench import bench_edge_impulse as run  # it imports this module

    return run(workdir, backend, sizes, repeat)


def bench_recording_device(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    """Simple Streaming v2 over TCP into a recording: benchmarks/recording_device_bench.py."""
    from benchmarks.recording_device_bench import bench_recording_device as run

    return run(workdir, backend, sizes, repeat)


# Each section as (workdir, backend, sizes, repeat) -> figures; the keys are --only's choices.
Section = Callable[[Path, str, dict[str, int], int], dict[str, Any]]
SECTIONS: dict[str, Section] = {
    "ingest": bench_ingest,
    "memory": lambda workdir, backend, sizes, repeat: bench_memory(workdir, backend, sizes),
    "download": bench_download,
    "data": bench_data,
    "lookups": lambda workdir, backend, sizes, repeat: bench_lookups(workdir, backend, sizes),
    "statistics": bench_statistics,
    "load": lambda workdir, backend, sizes, repeat: bench_load(workdir, backend, sizes),
    "cluster": bench_cluster,
    "ui": bench_ui,
    "s3": bench_s3,
    "s3-ingest": bench_s3_ingest,
    "s3-memory": bench_s3_memory,
    "plot": lambda *args: bench_plot(*args),
    "recording-ws": lambda *args: bench_recording_ws(*args),
    "versions": bench_versions,
    "recording-mqtt": bench_recording_mqtt,
    "recording-device": bench_recording_device,
    "edge-impulse": bench_edge_impulse,
}

# Parts of another section, for repeating one figure quickly: a full run has them already.
ONLY_WHEN_ASKED = {"s3-ingest"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=None, help="runs per figure (median)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where generated files go (kept between runs to save time)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/latest.json"))
    parser.add_argument(
        "--only", nargs="*", default=None, choices=list(SECTIONS), help="sections to run"
    )
    parser.add_argument(
        "--load-clients", type=int, default=None, help="load: concurrent clients (full: 200)"
    )
    parser.add_argument(
        "--load-seconds", type=int, default=None, help="load: how long they run (full: 300)"
    )
    parser.add_argument(
        "--recording-ws-seconds",
        type=int,
        default=None,
        help="recording-ws: how long the recordings stream (full: 300)",
    )
    parser.add_argument(
        "--recording-ws-batch-ms",
        type=int,
        default=None,
        help="recording-ws: a batch every this many ms per recording (full: 1000)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        help="lookups: captures in the project, loaded set-based (PostgreSQL; e.g. 1000000)",
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="lookups with --scale: load the captures again instead of using the database "
        "kept by an earlier run (kept per scale and schema migration)",
    )
    parser.add_argument(
        "--mqtt-batch-ms",
        type=int,
        default=None,
        help="recording-mqtt: milliseconds of samples per MQTT message (full: 200)",
    )
    parser.add_argument(
        "--mqtt-seconds",
        type=int,
        default=None,
        help="recording-mqtt: how long the devices publish (full: 120)",
    )
    parser.add_argument(
        "--mqtt-broker",
        choices=["machine", "tuned"],
        default="machine",
        help="recording-mqtt: the machine's Mosquitto with its defaults (20 messages in "
        "flight, 1,000 queued per client), or a private one started with the settings "
        "docs/recording.md recommends",
    )
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "full"
    sizes = dict(SIZES[mode])
    if args.load_clients is not None:
        sizes["load_clients"] = args.load_clients
    if args.load_seconds is not None:
        sizes["load_seconds"] = args.load_seconds
    if args.mqtt_batch_ms is not None:
        sizes["recording_mqtt_batch_ms"] = args.mqtt_batch_ms
    if args.mqtt_seconds is not None:
        sizes["recording_mqtt_seconds"] = args.mqtt_seconds
    sizes["recording_mqtt_tuned_broker"] = int(args.mqtt_broker == "tuned")
    if args.recording_ws_seconds is not None:
        sizes["recording_ws_seconds"] = args.recording_ws_seconds
    if args.recording_ws_batch_ms is not None:
        sizes["recording_ws_batch_ms"] = args.recording_ws_batch_ms
    if args.scale is not None:
        sizes["lookup_captures"] = args.scale
        sizes["lookup_set_based"] = 1
        sizes["lookup_reload"] = int(args.reload)
    repeat = args.repeat or (1 if args.smoke else 5)
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"capturehub-bench-{mode}"
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "mode": mode,
        "backend": args.backend,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "repeat": repeat,
    }
    for name, run in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        if not args.only and name in ONLY_WHEN_ASKED:
            continue
        print(f"running {name} ...", flush=True)
        started = time.perf_counter()
        report[name] = run(workdir, args.backend, sizes, repeat)
        print(f"  {name} took {time.perf_counter() - started:.1f} s", flush=True)
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"figures written to {args.out}")
    return 0


def format_figure(value: Any) -> str:
    """A figure with sensible digits: 1234, 463.2, 26.37, 0.0123; runs as such a list."""
    if isinstance(value, bool) or not isinstance(value, float | list):
        return str(value)
    if isinstance(value, list):
        return ", ".join(format_figure(float(item)) for item in value)
    size = abs(value)
    if size == 0:
        return "0"
    if size >= 1000:
        return f"{value:.0f}"
    if size >= 100:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\ncapturehub benchmarks ({report['mode']}, {report['backend']}, "
        f"median of {report['repeat']}) on {report['machine']}"
    )
    for section, figures in report.items():
        if not isinstance(figures, dict):
            continue
        print(f"\n[{section}]")
        for key, value in figures.items():
            print(f"  {key:<42} {format_figure(value)}")


if __name__ == "__main__":
    raise SystemExit(main())
