"""capturehub benchmarks: one command, every figure beside a baseline measured in the same run.

    python -m benchmarks.run            # full sizes (minutes); figures for docs/performance.md
    python -m benchmarks.run --smoke    # small sizes (seconds); CI runs this

Prints a table and writes the figures as JSON (``--out``). Each figure is the median of
``--repeat`` runs. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.data import make_csv, make_csv_of_size
from tests.servers import ServerProcess, free_port, new_server

MB = 1024 * 1024


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    values = [measure() for _ in range(runs)]
    return statistics.median(values), values


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found for {pid}")


class Session:
    """A running capturehub server with one logged-in account."""

    def __init__(self, workdir: Path, backend: str) -> None:
        self.server_dir = Path(tempfile.mkdtemp(prefix=f"server-{backend}-", dir=workdir))
        self.process: ServerProcess = new_server(backend, self.server_dir)
        account = self.process.create_account("bench", "bench")
        self.process.start()
        token = httpx.post(
            self.process.url + "oauth/token/",
            data={
                "grant_type": "password",
                "username": account.username,
                "password": account.password,
            },
        ).json()["access_token"]
        self.api = httpx.Client(
            base_url=self.process.url, timeout=600, headers={"Authorization": f"Bearer {token}"}
        )
        self.project = self.api.post("project/", json={"name": "bench"}).json()["uuid"]

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

    def wait(self, capture_uuid: str) -> dict[str, Any]:
        while True:
            capture: dict[str, Any] = self.api.get(
                f"project/{self.project}/capture/{capture_uuid}/"
            ).json()
            if capture["task_state"] in ("SUCCESS", "FAILURE"):
                if capture["task_state"] == "FAILURE":
                    raise RuntimeError(capture["task_result"])
                return capture
            time.sleep(0.01)

    def close(self) -> None:
        self.api.close()
        self.process.close()
        shutil.rmtree(self.server_dir, ignore_errors=True)


def bench_ingest(workdir: Path, backend: str, sizes: dict[str, int], repeat: int) -> dict[str, Any]:
    csv = make_csv(workdir / "ingest.csv", sizes["ingest_rows"])
    size_mb = csv.stat().st_size / MB
    results: dict[str, Any] = {"file_mb": round(size_mb, 1), "rows": sizes["ingest_rows"]}

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

        started = time.perf_counter()
        frame = pd.read_csv(csv)
        rewritten = workdir / "reference.csv"
        frame.to_csv(rewritten, index_label="sequence")
        shutil.copy(rewritten, workdir / "reference-copy.csv")
        elapsed = time.perf_counter() - started
        rewritten.unlink()
        (workdir / "reference-copy.csv").unlink()
        return size_mb / elapsed

    results["reference_mb_s"], _ = median_of(repeat, reference)

    session = Session(workdir, backend)
    try:
        counter = iter(range(10_000))
        # One untimed upload first: the figure is the steady state, not the first request's
        # imports and pool start-up.
        session.wait(session.upload(csv, "warmup.csv")["uuid"])

        def ingest() -> float:
            started = time.perf_counter()
            created = session.upload(csv, f"ingest-{next(counter)}.csv")
            session.wait(created["uuid"])
            return size_mb / (time.perf_counter() - started)

        results["ingest_mb_s"], results["ingest_runs"] = median_of(repeat, ingest)
    finally:
        session.close()
    results["ingest_vs_reference"] = results["ingest_mb_s"] / results["reference_mb_s"]
    results["ingest_vs_raw_http"] = results["ingest_mb_s"] / results["raw_http_mb_s"]
    return results


def bench_memory(workdir: Path, backend: str, sizes: dict[str, int]) -> dict[str, Any]:
    """Server RSS growth while a big CSV is uploaded, then processed (a fresh server)."""
    big = make_csv_of_size(workdir / "big.csv", sizes["memory_bytes"])
    session = Session(workdir, backend)
    try:
        # Warm up with a small file so one-time costs (imports, pools, caches) are not counted
        # as growth caused by the big upload.
        small = make_csv(workdir / "warmup.csv", 20_000)
        session.wait(session.upload(small, "warmup.csv")["uuid"])
        baseline = rss_kb(session.pid)
        created = session.upload(big, "big.csv")
        after_upload_peak = rss_kb(session.pid, "VmHWM")
        session.wait(created["uuid"])
        after_processing_peak = rss_kb(session.pid, "VmHWM")
    finally:
        session.close()
    return {
        "file_mb": round(big.stat().st_size / MB, 1),
        "server_baseline_mb": round(baseline / 1024, 1),
        "server_upload_growth_mb": round((after_upload_peak - baseline) / 1024, 1),
        "server_upload_and_processing_growth_mb": round(
            (after_processing_peak - baseline) / 1024, 1
        ),
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    }


def bench_lookups(workdir: Path, backend: str, sizes: dict[str, int]) -> dict[str, Any]:
    """Latency of the capture routes a UI or script calls most, on a big project."""
    import random

    from benchmarks.stats_bench import logged_in, seed_project

    captures = sizes["lookup_captures"]
    process = new_server(backend, Path(tempfile.mkdtemp(prefix="lookups-", dir=workdir)))
    try:
        api = logged_in(process)
        project, uuids, _label = seed_project(process, api, captures, 0)
        base = f"project/{project}/capture/"
        rng = random.Random(11)
        requests: dict[str, Callable[[], httpx.Response]] = {
            "page_of_100": lambda: api.get(
                base, params={"limit": 100, "offset": rng.randrange(0, captures - 100)}
            ),
            "get_by_name": lambda: api.get(
                base, params={"name": f"capture-{rng.randrange(captures):05d}.csv"}
            ),
            "get_by_uuid": lambda: api.get(f"{base}{rng.choice(uuids)}/"),
            "metadata_filtered_page": lambda: api.get(
                base,
                params={
                    "metadata.Subject": f"S{rng.randrange(40):02d}",
                    "metadata.Age__gte": "30",
                    "limit": 100,
                },
            ),
        }
        results: dict[str, Any] = {"captures": captures}
        for name, request in requests.items():
            for _ in range(10):  # warm the caches and the connection pool
                request().raise_for_status()
            samples = []
            for _ in range(sizes["lookup_requests"]):
                started = time.perf_counter()
                request().raise_for_status()
                samples.append(time.perf_counter() - started)
            for key, value in percentiles(samples).items():
                results[f"{name}_{key}"] = value
        api.close()
        return results
    finally:
        process.close()


def bench_statistics(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    from benchmarks.stats_bench import logged_in, seed_project

    process = new_server(backend, Path(tempfile.mkdtemp(prefix="statistics-", dir=workdir)))
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


SIZES = {
    "full": {
        "ingest_rows": 1_500_000,
        "memory_bytes": 1024 * MB,
        "lookup_captures": 100_000,
        "lookup_requests": 200,
        "stats_captures": 10_000,
        "stats_segments": 100_000,
    },
    "smoke": {
        "ingest_rows": 20_000,
        "memory_bytes": 20 * MB,
        "lookup_captures": 1_000,
        "lookup_requests": 20,
        "stats_captures": 200,
        "stats_segments": 2_000,
    },
}


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
    parser.add_argument("--only", nargs="*", default=None, help="sections to run")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "full"
    repeat = args.repeat or (1 if args.smoke else 5)
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"capturehub-bench-{mode}"
    workdir.mkdir(parents=True, exist_ok=True)
    sections: dict[str, Callable[[], dict[str, Any]]] = {
        "ingest": lambda: bench_ingest(workdir, args.backend, SIZES[mode], repeat),
        "memory": lambda: bench_memory(workdir, args.backend, SIZES[mode]),
        "lookups": lambda: bench_lookups(workdir, args.backend, SIZES[mode]),
        "statistics": lambda: bench_statistics(workdir, args.backend, SIZES[mode], repeat),
    }
    report: dict[str, Any] = {
        "mode": mode,
        "backend": args.backend,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "repeat": repeat,
    }
    for name, run in sections.items():
        if args.only and name not in args.only:
            continue
        print(f"running {name} ...", flush=True)
        report[name] = run()
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"figures written to {args.out}")
    return 0


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
            if isinstance(value, float):
                value = f"{value:.2f}"
            elif isinstance(value, list):
                value = ", ".join(f"{v:.1f}" for v in value)
            print(f"  {key:<42} {value}")


if __name__ == "__main__":
    raise SystemExit(main())
