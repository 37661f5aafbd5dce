"""Uploads and downloads stream: moving a 1 GB capture costs the client < 100 MB of memory.

The client runs in a subprocess so its peak resident set size (``ru_maxrss``) is its own. The
baseline is taken after a small warm-up upload and download, so imports and the connection
pool are in it; what is measured is what the big transfer adds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import RunningServer

ONE_GB = 1024**3
LIMIT_MB = 100

CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from capturehub import Client

    url, api_key, project, big, small, outdir = sys.argv[1:]

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    client = Client(server=url, api_key=api_key, project=project)
    # Over HTTP, as from another machine: the path where the bytes pass through the SDK (on
    # the server's machine the SDK would copy the stored file in place).
    client.connection.reads_local_files = False
    captures = client.project.captures
    warm = captures.create_capture("warm-up", small)
    warm.download(outdir)
    baseline = peak_mb()
    capture = captures.create_capture("one gigabyte", big)
    after_upload = peak_mb()
    target = capture.download(outdir)
    after_download = peak_mb()
    capture.delete()
    print(json.dumps({
        "baseline": baseline, "after_upload": after_upload, "after_download": after_download,
        "uploaded": capture.file_size, "downloaded": target.stat().st_size,
    }))
    """
)


def _write_big_csv(path: Path, size: int) -> None:
    """A numeric CSV of ``size`` bytes, written in 1 MiB blocks of one repeated row."""
    header = b"a,b,c,d,e,f\n"
    row = b"0.123456,1.234567,-2.345678,3.456789,-4.567891,5.678912\n"
    block = row * ((1 << 20) // len(row))
    with path.open("wb") as out:
        out.write(header)
        written = len(header)
        while written + len(block) <= size:
            out.write(block)
            written += len(block)
        out.write(row * ((size - written) // len(row)))


@pytest.mark.timeout(900)
def test_one_gigabyte_round_trip_keeps_memory_flat(
    server: RunningServer, project_name: str, watch_files: list[Path], tmp_path: Path
) -> None:
    if server.backend != "sqlite":
        pytest.skip("client memory does not depend on the server's database; run once")
    big = tmp_path / "big.csv"
    outdir = tmp_path / "downloads"
    try:
        _write_big_csv(big, ONE_GB)
        size = big.stat().st_size
        root = Path(__file__).resolve().parents[2]
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                CLIENT_SCRIPT,
                server.url,
                server.api_key,
                project_name,
                str(big),
                str(watch_files[0]),
                str(outdir),
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=850,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["uploaded"] == report["downloaded"] == size
        assert (outdir / "one gigabyte.csv").stat().st_size == size
        growth = report["after_download"] - report["baseline"]
        assert growth <= LIMIT_MB, f"client memory grew by {growth:.0f} MB: {report}"
    finally:
        big.unlink(missing_ok=True)
        (outdir / "one gigabyte.csv").unlink(missing_ok=True)
