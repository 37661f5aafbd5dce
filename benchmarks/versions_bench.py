"""Dataset versions at scale: making one, its rows on disk, a diff, and windows.

    python -m benchmarks.run --only versions --backend sqlite        (or postgresql)

- create: POST versions/ of a project of ``version_captures`` captures with 5 metadata keys
  each and ``version_segments`` segments (rows inserted directly, as benchmarks/stats_bench.py
  does), over HTTP: target <= 10 s;
- bytes per row: the version tables' size on disk (tables and indexes; SQLite's dbstat,
  PostgreSQL's pg_total_relation_size) grown by one version, over its captures + segments:
  target <= 200;
- diff: 1% of the captures changed (half metadata, half segment bounds), a second version
  made, then GET diff: target <= 5 s;
- windows: ``Version.windows("Exercise", 128, 64)`` over the watch data's 140 captures, beside
  a plain numpy implementation in the same run and taking turns with it (the same
  ``Capture.get_data()`` per capture, one after the other, then slicing in Python loops and
  ``np.stack``): target <= 1.5x.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update

from benchmarks.stats_bench import logged_in, seed_project
from tests.servers import new_server

TABLES = (
    "dataset_version",
    "version_value",
    "version_capture",
    "version_metadata",
    "version_segment",
)
WATCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "watch"


def _size(context: Any) -> int:
    """Bytes on disk of the version tables and their indexes."""
    with context.db.engine.connect() as connection:
        if context.db.is_sqlite:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            names = list(TABLES) + [
                row[0]
                for row in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
                    f"({', '.join(repr(t) for t in TABLES)})"
                )
            ]
            listed = ", ".join(repr(name) for name in names)
            return int(
                connection.exec_driver_sql(
                    f"SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ({listed})"
                ).scalar()
                or 0
            )
        total = " + ".join(f"pg_total_relation_size('{table}')" for table in TABLES)
        return int(connection.execute(text(f"SELECT {total}")).scalar() or 0)


def _change_one_percent(context: Any, project_uuid: str) -> int:
    """Change 1% of the captures: half get another metadata value, half a segment moved."""
    from capturehub.server.models import Capture, CaptureMetadataValue, Project, Segment

    with context.db.session() as session:
        project_id = session.scalars(select(Project.id).where(Project.uuid == project_uuid)).one()
        ids = list(
            session.scalars(
                select(Capture.id).where(Capture.project_id == project_id).order_by(Capture.id)
            )
        )
        changed = ids[::100]
        relabel, move = changed[::2], changed[1::2]
        first_key = session.scalar(
            select(CaptureMetadataValue.label_id)
            .where(CaptureMetadataValue.capture_id == relabel[0])
            .order_by(CaptureMetadataValue.label_id)
            .limit(1)
        )
        other_value = session.scalar(
            select(CaptureMetadataValue.label_value_id)
            .where(CaptureMetadataValue.label_id == first_key)
            .order_by(CaptureMetadataValue.label_value_id.desc())
            .limit(1)
        )
        relabelled = session.execute(
            update(CaptureMetadataValue)
            .where(
                CaptureMetadataValue.capture_id.in_(relabel),
                CaptureMetadataValue.label_id == first_key,
                CaptureMetadataValue.label_value_id != other_value,
            )
            .values(label_value_id=other_value)
        )
        session.execute(
            update(Segment).where(Segment.capture_id.in_(move)).values(start=Segment.start + 1)
        )
    # A capture that already had that value is not changed (about 1 in 40).
    return int(relabelled.rowcount) + len(move)


def _windows(
    api_url: str, token: str, project: str, repeat: int, limit: int | None
) -> dict[str, Any]:
    import numpy as np

    from benchmarks.run import interleaved
    from capturehub import Client

    with Client(server=api_url, token=token) as client:
        client.project = project
        manifest = WATCH / "manifest.json"
        if limit is not None:  # smoke: the first few recordings
            entries = json.loads(manifest.read_text())[:limit]
            manifest = Path(tempfile.mkdtemp()) / "manifest.json"
            manifest.write_text(json.dumps(entries))
        report = client.project.captures.import_dataset(manifest, data_dir=WATCH)
        assert report.ok, report.summary()
        version = client.project.versions.create("training")

        def sdk() -> float:
            started = time.perf_counter()
            X, y, groups = version.windows("Exercise", size=128, step=64)
            assert len(X) == len(y) == len(groups) > 0
            return time.perf_counter() - started

        def plain_numpy() -> float:
            started = time.perf_counter()
            windows, values, groups = [], [], []
            for capture in version.captures():
                data = capture.get_data().to_numpy(dtype=np.float64)
                for seg in capture.segments:
                    if seg.label != "Exercise":
                        continue
                    first = seg.start
                    while first + 128 - 1 <= seg.end:
                        windows.append(data[first : first + 128])
                        values.append(seg.value)
                        groups.append(capture.name)
                        first += 64
            X = np.stack(windows)
            assert len(X) == len(values) > 0
            return time.perf_counter() - started

        sdk(), plain_numpy()  # warm-up (connections, the local-file check), not counted
        figures = interleaved(repeat, {"windows_s": sdk, "windows_numpy_s": plain_numpy})
        figures["windows_ratio"] = figures["windows_s"] / figures["windows_numpy_s"]
        figures["windows_captures"] = version.capture_count
        return figures


def bench_versions(
    workdir: Path, backend: str, sizes: dict[str, int], repeat: int
) -> dict[str, Any]:
    captures, segments = sizes["version_captures"], sizes["version_segments"]
    process = new_server(backend, workdir / f"versions-{backend}-{time.time_ns()}")
    figures: dict[str, Any] = {"captures": captures, "segments": segments}
    try:
        api = logged_in(process)
        project, _, _ = seed_project(process, api, captures, segments, name="versions")
        base = f"project/{project}/versions/"
        context = process.context()
        try:
            runs = []
            size_before = _size(context)
            for index in range(repeat):
                started = time.perf_counter()
                made = api.post(base, json={"name": f"v1-{index}"})
                runs.append(time.perf_counter() - started)
                made.raise_for_status()
                assert made.json()["captures"] == captures
                assert made.json()["segments"] == segments
                if index == 0:
                    grown = _size(context) - size_before
                    figures["bytes_per_capture_and_segment"] = grown / (captures + segments)
            figures["create_s"] = statistics.median(runs)
            print(
                f"  [{backend}] create {runs}, {figures['bytes_per_capture_and_segment']:.1f} B",
                flush=True,
            )
            figures["create_runs"] = runs
            figures["changed_captures"] = _change_one_percent(context, project)
        finally:
            context.db.dispose()
        api.post(base, json={"name": "v2"}).raise_for_status()
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            diff = api.get(base + "v1-0/diff/v2/")
            runs.append(time.perf_counter() - started)
            diff.raise_for_status()
        body = diff.json()
        assert len(body["changed"]) == figures["changed_captures"], len(body["changed"])
        figures["diff_s"] = statistics.median(runs)
        print(f"  [{backend}] diff {runs}", flush=True)
        figures["diff_runs"] = runs
        token = api.headers["Authorization"].removeprefix("Bearer ")
        figures.update(
            _windows(
                process.url,
                token,
                "watch",
                repeat,
                None if sizes["version_captures"] >= 100_000 else 14,
            )
        )
    finally:
        process.close()
    return figures
