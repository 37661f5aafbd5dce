"""The statistics DataFrame from §7 objects: column order, zero counts, missing metadata."""

from __future__ import annotations

from capturehub.datamanager._frames import statistics_frame


def test_statistics_frame_columns_and_values() -> None:
    rows = [
        {
            "capture_name": "a",
            "capture_uuid": "u1",
            "total_event_count": 3,
            "event_labels": {
                "Exercise": [{"value": "PEN", "count": 2}, {"value": "ABD", "count": 1}]
            },
            "metadata": {"Subject": "S01", "Side": None},
            "number_samples": 100,
            "set_sample_rate": 50.0,
            "task_state": "SUCCESS",
        },
        {
            "capture_name": "b",
            "capture_uuid": "u2",
            "total_event_count": 0,
            "event_labels": {"Exercise": [{"value": "PEN", "count": 0}]},
            "metadata": {"Subject": "S02"},
            "number_samples": 7,
            "set_sample_rate": None,
            "task_state": "FAILURE",
        },
    ]
    frame = statistics_frame(rows)
    assert list(frame.columns) == [
        "capture_name",
        "capture_uuid",
        "total_event_count",
        "Exercise: PEN",
        "Exercise: ABD",
        "Subject",
        "Side",
        "number_samples",
        "set_sample_rate",
        "task_state",
    ]
    assert frame["Exercise: PEN"].tolist() == [2, 0]
    assert frame["Exercise: ABD"].tolist() == [1, 0]  # absent from a row: counted 0
    assert frame["Exercise: ABD"].dtype == "int64"
    assert frame["Subject"].tolist() == ["S01", "S02"]
    assert frame["Side"].isna().all()


def test_statistics_frame_empty() -> None:
    frame = statistics_frame([])
    assert frame.empty
    assert list(frame.columns) == ["capture_name", "capture_uuid", "total_event_count"]
