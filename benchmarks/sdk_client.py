"""The SDK in a process of its own, so that its memory is measured alone (``benchmarks.run``'s
memory section starts it).

    python -m benchmarks.sdk_client upload --project P --file BIG.csv --name NAME --warmup SMALL.csv
    python -m benchmarks.sdk_client download --project P --uuid U --warmup-uuid W --outdir DIR

The server and the credentials come from the SDK's own environment variables
(``CAPTUREHUB_SERVER``, ``CAPTUREHUB_USERNAME``, ``CAPTUREHUB_PASSWORD``), so that no password
shows in the process list. A small warm-up transfer of the same kind comes first (imports,
connection pool, buffers); the child then prints a JSON line ``{"ready": true, ...}`` and waits
for a ``go`` line on stdin; then its peak is reset and the big transfer is made. The last line
printed is JSON: ``rss_before_kb`` (VmRSS after the warm-up), ``hwm_after_kb`` (VmHWM after the
transfer), ``peak_reset`` (whether the high-water mark could be reset to the current RSS right
before the transfer; without it VmHWM counts from the process start, warm-up included, so the
growth is an upper bound), the bytes moved and the seconds taken.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from capturehub import Client


def status_kb(field: str, pid: int | str = "self") -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/{pid}/status")


def reset_peak(pid: int | str = "self") -> bool:
    """Reset VmHWM to the current VmRSS (``clear_refs`` value 5, Linux 4.0+); False when the
    kernel or the sandbox does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def wait_for_go(ready: dict[str, Any]) -> None:
    """Tell the parent the warm-up is done (one JSON line), then wait for its ``go`` line: it
    first lets the server settle and resets the server's peak, so both are measured over the
    same transfer."""
    print(json.dumps({"ready": True, **ready}), flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("the parent did not say go")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The SDK's memory during one big transfer.")
    parser.add_argument("action", choices=["upload", "download"])
    parser.add_argument("--project", required=True)
    parser.add_argument("--file", type=Path, help="upload: the big file")
    parser.add_argument("--name", help="upload: the capture's name")
    parser.add_argument("--warmup", type=Path, help="upload: a small file uploaded first")
    parser.add_argument("--uuid", help="download: the big capture")
    parser.add_argument("--warmup-uuid", help="download: a small capture downloaded first")
    parser.add_argument("--outdir", type=Path, help="download: where the files go")
    parser.add_argument(
        "--over-http",
        action="store_true",
        help="download over HTTP even on the server's machine (as a client elsewhere would)",
    )
    args = parser.parse_args(argv)

    with Client(project=args.project) as client:
        if args.over_http:
            client.connection.reads_local_files = False
        captures = client.project.captures
        report: dict[str, Any] = {"action": args.action}
        if args.action == "upload":
            if args.file is None or args.warmup is None or not args.name:
                parser.error("upload needs --file, --name and --warmup")
            warm = captures.create_capture(f"sdk-warmup-{uuid.uuid4().hex[:8]}", args.warmup)
            wait_for_go({"warmup_uuid": warm.uuid})
            report["peak_reset"] = reset_peak()
            report["rss_before_kb"] = status_kb("VmRSS")
            report["hwm_before_kb"] = status_kb("VmHWM")
            started = time.perf_counter()
            capture = captures.create_capture(args.name, args.file)
            report["seconds"] = time.perf_counter() - started
            report["hwm_after_kb"] = status_kb("VmHWM")
            report["bytes"] = args.file.stat().st_size
            report["uuid"] = capture.uuid
        else:
            if not args.uuid or not args.warmup_uuid or args.outdir is None:
                parser.error("download needs --uuid, --warmup-uuid and --outdir")
            small = captures.get_capture_by_uuid(args.warmup_uuid)
            big = captures.get_capture_by_uuid(args.uuid)
            if small is None or big is None:
                raise SystemExit(f"capture not found: {args.warmup_uuid} or {args.uuid}")
            small.download(args.outdir / "warmup").unlink()
            wait_for_go({"warmup_uuid": small.uuid})
            report["peak_reset"] = reset_peak()
            report["rss_before_kb"] = status_kb("VmRSS")
            report["hwm_before_kb"] = status_kb("VmHWM")
            started = time.perf_counter()
            path = big.download(args.outdir)
            report["seconds"] = time.perf_counter() - started
            report["hwm_after_kb"] = status_kb("VmHWM")
            report["bytes"] = path.stat().st_size
            if report["bytes"] != big.file_size:
                raise SystemExit(f"downloaded {report['bytes']} bytes of {big.file_size}")
            path.unlink()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
