"""How long the label and statistics routes take at scale, on SQLite and PostgreSQL.

    python -m benchmarks.stats_bench                       # 10,000 captures, both databases
    python -m benchmarks.stats_bench --backend sqlite --captures 1000 --segments 10000

Builds a project the size the issue names (10,000 captures, 100,000 segments, 5 metadata keys
with a value on every capture) by inserting rows directly through SQLAlchemy into a real
server's database (uploading 10,000 files would measure ingest instead), then times, over HTTP:
``GET statistics/`` (the target: at most 1 s), ``GET summary/``, a metadata-filtered capture
list, the metadata query route, and one POST of 10,000 segments (one transaction). Each figure
is the median of ``--repeat`` runs. After the load, PostgreSQL tables are VACUUM ANALYZEd, as
autovacuum would do, and SQLite's get the ANALYZE the server's housekeeping runs and a WAL
checkpoint.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from tests.servers import new_server, postgres_available

METADATA_KEYS = [
    ("Subject", "string"),
    ("Side", "string"),
    ("Age", "integer"),
    ("Device", "string"),
    ("Height", "float"),
]


def timed(repeat: int, action: Callable[[], Any]) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def populate(
    context: Any,
    project_uuid: str,
    label: dict[str, Any],
    keys: list[dict[str, Any]],
    captures: int,
    segments: int,
) -> list[str]:
    """Insert the captures, their metadata and segments; returns the capture uuids."""
    from capturehub.server.models import (
        Capture,
        CaptureMetadataValue,
        Label,
        LabelValue,
        Project,
        new_uuid,
    )
    from capturehub.server.models import Segment as SegmentRow

    rng = random.Random(7)
    with context.db.session() as session:
        project_id = session.scalars(select(Project.id).where(Project.uuid == project_uuid)).one()
        uuids = [new_uuid() for _ in range(captures)]
        created = session.execute(
            insert(Capture).returning(Capture.id, Capture.created_at, sort_by_parameter_order=True),
            [
                {
                    "uuid": uuid,
                    "project_id": project_id,
                    "name": f"capture-{i:05d}.csv",
                    "format": ".csv",
                    "file_size": 100_000,
                    "sha256": "0" * 64,
                    "blob_key": f"bench/{uuid}",
                    "number_samples": 5000,
                    "max_sequence": 4999,
                    "set_sample_rate": 50.0,
                    "task_state": "SUCCESS",
                }
                for i, uuid in enumerate(uuids)
            ],
        ).all()
        capture_ids = [row.id for row in created]
        # What the upload path does in the same transaction as each insert.
        session.execute(
            update(Project)
            .where(Project.id == project_id)
            .values(capture_count=Project.capture_count + len(capture_ids))
        )
        value_ids: dict[int, list[int]] = {
            row.label_id: []
            for row in session.execute(
                select(Label.id.label("label_id")).where(Label.project_id == project_id)
            )
        }
        for value_id, label_id in session.execute(
            select(LabelValue.id, LabelValue.label_id)
            .join(Label)
            .where(Label.project_id == project_id)
        ):
            value_ids[label_id].append(value_id)
        label_id = session.scalars(select(Label.id).where(Label.uuid == label["uuid"])).one()
        key_ids = [
            session.scalars(select(Label.id).where(Label.uuid == k["uuid"])).one() for k in keys
        ]
        metadata_rows = [
            {
                "capture_id": capture_id,
                "label_id": key_id,
                "label_value_id": rng.choice(value_ids[key_id]),
                "capture_created_at": capture_created_at,
            }
            for capture_id, capture_created_at in created
            for key_id in key_ids
        ]
        rows = []
        for n in range(segments):
            start = rng.randrange(0, 4900)
            rows.append(
                {
                    "capture_id": capture_ids[n % captures],
                    "label_id": label_id,
                    "label_value_id": rng.choice(value_ids[label_id]),
                    "start": start,
                    "end": start + 99,
                }
            )
        # Slices, never an empty list (which SQLAlchemy would run as one row of defaults).
        for table, batch in ((CaptureMetadataValue, metadata_rows), (SegmentRow, rows)):
            for offset in range(0, len(batch), 10_000):
                session.execute(insert(table), batch[offset : offset + 10_000])
    return uuids


def seed_project(
    process: Any,
    api: httpx.Client,
    captures: int,
    segments: int,
    name: str = "bench",
    set_based: bool = False,
) -> tuple[str, list[str], dict[str, Any]]:
    """A project with ``captures`` captures, ``segments`` segments of label Activity and the
    five METADATA_KEYS set on every capture; returns (project uuid, capture uuids, label).
    ``set_based``: the rows are made by the database (PostgreSQL, no segments), for a million
    captures; the uuids returned are then a sample of 10,000."""
    p = api.post("project/", json={"name": name}).json()["uuid"]
    label = api.post(
        f"project/{p}/label/",
        json={"name": "Activity", "values": ["walk", "run", "sit", "stand", "jump", "fall"]},
    ).json()
    keys = []
    for name, kind in METADATA_KEYS:
        values: list[Any] = (
            [f"S{i:02d}" for i in range(40)]
            if name == "Subject"
            else list(range(18, 80))
            if kind == "integer"
            else [round(1.5 + i / 100, 2) for i in range(60)]
            if kind == "float"
            else ["a", "b", "c"]
        )
        keys.append(
            api.post(
                f"project/{p}/metadata/", json={"name": name, "type": kind, "values": values}
            ).json()
        )
    context = process.context()
    try:
        started = time.perf_counter()
        if set_based:
            from benchmarks.lookup_scale import populate_set_based

            uuids = populate_set_based(context, p, keys, captures)
        else:
            uuids = populate(context, p, label, keys, captures, segments)
        # What the server's housekeeping (SQLite) or autovacuum (PostgreSQL) does shortly
        # after a bulk load: without statistics the planner guesses a handful of rows per
        # table and picks nested loops. Autovacuum also vacuums a table after many inserts
        # (autovacuum_vacuum_insert_threshold, PostgreSQL 13+), which marks its pages
        # all-visible so that index-only scans need not visit the table.
        if process.backend == "postgresql":
            autocommit = context.db.engine.execution_options(isolation_level="AUTOCOMMIT")
            with autocommit.connect() as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            context.db.refresh_planner_statistics()
            # The load above is one transaction of ~140 MB, so it sits in the write-ahead log
            # until a checkpoint copies it into the database file, and reads that find their
            # pages in the log are slower. A server that received the same captures one
            # upload at a time would have checkpointed every 1,000 pages (SQLite's default).
            with context.db.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            # The rows and their statistics were written behind the running server's back,
            # and its SQLite connections read statistics only with the schema: restarting it
            # gives the view it would have had if the captures had come through it (its
            # housekeeping refreshes the statistics as a project grows).
            process.stop()
            process.start()
        print(
            f"  [{process.backend}] inserted {captures} captures, {segments} segments, "
            f"{captures * len(keys)} metadata values in {time.perf_counter() - started:.1f} s"
        )
    finally:
        context.db.dispose()
    return p, uuids, label


def logged_in(process: Any) -> httpx.Client:
    account = process.create_account("bench", "bench")
    process.start()
    token = httpx.post(
        process.url + "oauth/token/",
        data={"grant_type": "password", "username": account.username, "password": account.password},
    ).json()["access_token"]
    return httpx.Client(
        base_url=process.url, timeout=600, headers={"Authorization": f"Bearer {token}"}
    )


def bench(backend: str, captures: int, segments: int, repeat: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"stats-bench-{backend}-"))
    process = new_server(backend, workdir / "server")
    try:
        api = logged_in(process)
        p, uuids, label = seed_project(process, api, captures, segments)

        # The whole body received; parsing it (about 5 MB) is the client's time, not the route's.
        rows = api.get(f"project/{p}/statistics/").json()
        assert len(rows) == captures and sum(row["total_event_count"] for row in rows) == segments

        def statistics_route() -> None:
            api.get(f"project/{p}/statistics/").raise_for_status()

        figures = {
            "statistics_s": timed(repeat, statistics_route),
            "summary_s": timed(repeat, lambda: api.get(f"project/{p}/summary/").raise_for_status()),
            "filtered_list_s": timed(
                repeat,
                lambda: api.get(
                    f"project/{p}/capture/",
                    params={
                        "metadata.Age__gte": "30",
                        "metadata.Age__lt": "40",
                        "metadata.Side": "a",
                    },
                ).raise_for_status(),
            ),
            "metadata_query_s": timed(
                repeat,
                lambda: api.get(
                    f"project/{p}/capture/metadata/[Subject]=[S07]/"
                ).raise_for_status(),
            ),
        }
        value = label["label_values"][0]["uuid"]
        bulk = [
            {
                "capture": uuids[n % len(uuids)],
                "label": label["uuid"],
                "label_value": value,
                "capture_sample_sequence_start": n % 4000,
                "capture_sample_sequence_end": n % 4000 + 50,
            }
            for n in range(10_000)
        ]
        started = time.perf_counter()
        api.post(f"project/{p}/label-relationship/", json=bulk).raise_for_status()
        figures["post_10k_segments_s"] = time.perf_counter() - started
        api.close()
        return figures
    finally:
        process.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--captures", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = {}
    for backend in backends:
        if backend == "postgresql" and (reason := postgres_available()):
            print(f"  skipping postgresql: {reason}")
            continue
        results[backend] = bench(backend, args.captures, args.segments, args.repeat)
    names = sorted({name for figures in results.values() for name in figures})
    print(
        f"\n{args.captures} captures, {args.segments} segments, {len(METADATA_KEYS)} metadata keys"
        f" (median of {args.repeat}; post_10k_segments_s: one run)"
    )
    print(f"{'figure':<24}" + "".join(f"{backend:>14}" for backend in results))
    for name in names:
        print(f"{name:<24}" + "".join(f"{results[b][name]:>14.3f}" for b in results))


if __name__ == "__main__":
    main()
