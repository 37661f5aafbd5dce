"""Captures over HTTP: upload, processing, measurements, download, errors (wire-api §5)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from scipy.io import wavfile

from tests.conftest import RunningServer
from tests.ingest.ingest_helpers import empty_cells_per_column, merged_sensors_csv
from tests.plots.test_plot_pyramid import with_plot_pyramid
from tests.server.helpers import upload, wait_done

WATCH_SAMPLES = ["S01_0_ABD_007.csv", "S07_1_PEN_000.csv", "S10_1_FEL_001.csv"]


def _check_statistics(statistics: dict[str, Any], column: str, values: np.ndarray) -> None:
    got = statistics[column]
    assert got["count"] == len(values)
    assert got["nan_count"] == int(np.isnan(values).sum())
    assert got["min"] == pytest.approx(float(np.nanmin(values)), rel=1e-9, abs=1e-12)
    assert got["max"] == pytest.approx(float(np.nanmax(values)), rel=1e-9, abs=1e-12)
    assert got["mean"] == pytest.approx(float(np.nanmean(values)), rel=1e-9, abs=1e-9)
    assert got["std"] == pytest.approx(float(np.nanstd(values)), rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("filename", WATCH_SAMPLES)
def test_watch_csv_is_measured(
    api: httpx.Client, project: dict[str, Any], shared_data: Path, filename: str
) -> None:
    path = shared_data / "watch" / "captures" / filename
    response = upload(api, project["uuid"], path, set_sample_rate="50")
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["task_state"] in ("SENT", "STARTED", "SUCCESS")
    assert created["task_result"] is None
    assert created["file_size"] == path.stat().st_size
    assert created["format"] == ".csv"
    for forbidden in ("filename", "path", "capture_info", "connection", "project"):
        assert forbidden not in created
    capture = wait_done(api, project["uuid"], created["uuid"])
    assert capture["task_state"] == "SUCCESS", capture["task_result"]
    assert capture["_states_seen"][-1] == "SUCCESS"
    header = path.read_text().splitlines()[0].split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    assert capture["number_samples"] == table.shape[0]
    assert capture["max_sequence"] == table.shape[0] - 1
    assert capture["set_sample_rate"] == 50
    assert set(capture["schema"]) == set(header)
    for index, column in enumerate(header):
        _check_statistics(capture["statistics"], column, table[:, index])
    assert capture["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_daphnet_timestamps_give_the_sample_rate(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    path = shared_data / "daphnet" / "S06R02E0.csv"
    created = upload(api, project["uuid"], path).json()
    capture = wait_done(api, project["uuid"], created["uuid"])
    assert capture["task_state"] == "SUCCESS", capture["task_result"]
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    stamps = np.array(
        [line.split(",")[0].replace(" ", "T") for line in lines[1:]], dtype="datetime64[ns]"
    )
    values = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    assert capture["number_samples"] == len(lines) - 1 == 7040
    assert capture["max_sequence"] == len(lines) - 2
    # Daphnet rounds its times to whole ms (15/16 ms steps of a 64 Hz signal): the rate is
    # one over the mean of the spacings near the median (docs/ingest.md), not 1/median.
    spacings = np.diff(stamps).astype(np.int64).astype(np.float64)
    median = np.median(spacings)
    typical = spacings[(spacings > 0.5 * median) & (spacings < 1.5 * median)]
    expected_rate = 1e9 / float(typical.mean())
    assert round(expected_rate) == 64
    assert capture["calculated_sample_rate"] == pytest.approx(expected_rate, rel=1e-6)
    assert "timestamp" not in capture["schema"]
    for index, column in enumerate(header[1:]):
        _check_statistics(capture["statistics"], column, values[:, index])


@pytest.mark.parametrize("filename", ["BM003.wav", "deermouse-go.wav"])
def test_wav_is_measured(
    api: httpx.Client, project: dict[str, Any], shared_data: Path, filename: str
) -> None:
    path = shared_data / "audio" / filename
    created = upload(api, project["uuid"], path).json()
    assert created["format"] == ".wav"
    capture = wait_done(api, project["uuid"], created["uuid"])
    assert capture["task_state"] == "SUCCESS", capture["task_result"]
    rate, samples = wavfile.read(path)
    samples = samples.reshape(len(samples), -1)
    assert capture["set_sample_rate"] == rate
    assert capture["number_samples"] == samples.shape[0]
    assert capture["max_sequence"] == samples.shape[0] - 1
    assert list(capture["schema"]) == [f"channel_{i}" for i in range(samples.shape[1])]
    for index in range(samples.shape[1]):
        _check_statistics(
            capture["statistics"], f"channel_{index}", samples[:, index].astype(np.float64)
        )


def test_download_is_byte_identical_and_supports_range(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    for path in (shared_data / "audio" / "BM003.wav", shared_data / "daphnet" / "S06R02E0.csv"):
        created = upload(api, project["uuid"], path, name=f"ü {path.name}").json()
        url = f"project/{project['uuid']}/capture/{created['uuid']}/file/"
        whole = api.get(url)
        assert whole.status_code == 200
        original = path.read_bytes()
        assert hashlib.sha256(whole.content).digest() == hashlib.sha256(original).digest()
        expected_type = "audio/wav" if path.suffix == ".wav" else "text/csv; charset=utf-8"
        assert whole.headers["content-type"] == expected_type
        assert "filename*=UTF-8''%C3%BC%20" in whole.headers["content-disposition"]
        part = api.get(url, headers={"Range": "bytes=100-1099"})
        assert part.status_code == 206
        assert part.content == original[100:1100]
        assert part.headers["content-range"] == f"bytes 100-1099/{len(original)}"
        tail = api.get(url, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == original[-10:]
        beyond = api.get(url, headers={"Range": f"bytes={len(original) + 5}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(original)}"
        assert beyond.json()["status"] == 416
        assert f"{len(original)} bytes" in beyond.json()["detail"]


def test_duplicate_name_is_409_and_keeps_the_first(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    path = shared_data / "watch" / "captures" / WATCH_SAMPLES[0]
    first = upload(api, project["uuid"], path, name="walk")
    assert first.status_code == 201
    second = upload(api, project["uuid"], shared_data / "audio" / "BM003.wav", name="walk")
    assert second.status_code == 409
    body = second.json()
    assert body == {
        "status": 409,
        "detail": "Project already contains a file with the name walk",
        "data": body["data"],
    }
    assert "name" in body["data"]
    listed = api.get(f"project/{project['uuid']}/capture/", params={"name": "walk"}).json()
    assert [c["uuid"] for c in listed] == [first.json()["uuid"]]
    assert listed[0]["format"] == ".csv"


def test_other_project_and_team_get_404(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    created = upload(api, project["uuid"], shared_data / "audio" / "BM003.wav").json()
    other_project = api.post("project/", json={"name": project["name"] + "-b"}).json()
    assert api.get(f"project/{other_project['uuid']}/capture/{created['uuid']}/").status_code == 404
    assert (
        api.get(f"project/{other_project['uuid']}/capture/{created['uuid']}/file/").status_code
        == 404
    )
    with server.http(server.other) as rival:
        base = f"project/{project['uuid']}/capture/"
        assert rival.get(base).status_code == 404
        assert rival.get(f"{base}{created['uuid']}/").status_code == 404
        assert rival.get(f"{base}{created['uuid']}/file/").status_code == 404
        assert rival.delete(f"{base}{created['uuid']}/").status_code == 404
        assert rival.patch(f"{base}{created['uuid']}/", json={"name": "x"}).status_code == 404
    assert api.get(f"project/{project['uuid']}/capture/{created['uuid']}/").status_code == 200


def test_empty_cells_are_missing_samples(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    """A merged multi-rate table with dropped readings is processed; gaps are NaN, counted."""
    import io

    import pandas as pd
    import pyarrow as pa

    rows = 60_000  # ~2 MB: more than one parsing block
    path = tmp_path / "merged.csv"
    path.write_bytes(merged_sensors_csv(rows))
    empty = empty_cells_per_column(path.read_bytes())  # the csv module, not our reader
    expected = pd.read_csv(path)
    created = upload(api, project["uuid"], path)
    assert created.status_code == 201, created.text
    capture = wait_done(api, project["uuid"], created.json()["uuid"])
    assert capture["task_state"] == "SUCCESS", capture["task_result"]
    assert capture["number_samples"] == rows
    channels = ["accel", "gyro", "temp", "late", "quoted"]
    assert capture["schema"] == {name: {"type": "float"} for name in channels}
    for name in channels:
        assert capture["statistics"][name]["nan_count"] == empty[name] > 0, name
        _check_statistics_with_nan(capture["statistics"], name, expected[name].to_numpy())
    response = api.get(
        f"project/{project['uuid']}/capture/{capture['uuid']}/data/",
        params={"start": 0, "end": 3000},
    )
    assert response.status_code == 200
    table = pa.ipc.open_stream(io.BytesIO(response.content)).read_all()
    np.testing.assert_array_equal(table.column("gyro").to_numpy(), expected["gyro"][:3000])


def _check_statistics_with_nan(statistics: dict[str, Any], column: str, values: Any) -> None:
    values = np.asarray(values, dtype=np.float64)
    got = statistics[column]
    assert got["count"] == int(np.isfinite(values).sum())
    assert got["nan_count"] == int(np.isnan(values).sum())
    assert got["mean"] == pytest.approx(float(np.nanmean(values)), rel=1e-9, abs=1e-9)
    assert got["std"] == pytest.approx(float(np.nanstd(values)), rel=1e-7, abs=1e-9)


def test_a_column_without_values_is_refused_with_its_name(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    bad = tmp_path / "no_values.csv"
    bad.write_text("a,b,c\n1,,3\n4,,6\n")
    created = upload(api, project["uuid"], bad)
    assert created.status_code == 201
    capture = wait_done(api, project["uuid"], created.json()["uuid"])
    assert capture["task_state"] == "FAILURE"
    assert capture["task_result"].startswith(
        'column "b": every one of its 2 cells is empty; remove the column'
    )
    response = upload(api, project["uuid"], bad, name="again", asynchronous=False)
    assert response.status_code == 400
    assert response.json()["detail"] == capture["task_result"]


def test_synchronous_bad_file_is_400_and_nothing_is_stored(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,oops\n")
    response = upload(api, project["uuid"], bad, asynchronous=False)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "line 3" in detail and "oops" in detail
    assert api.get(f"project/{project['uuid']}/capture/").json() == []
    assert _blob_count(server, project["uuid"]) == 0


def test_synchronous_good_file_is_ready_at_once(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    path = shared_data / "watch" / "captures" / WATCH_SAMPLES[1]
    response = upload(api, project["uuid"], path, asynchronous=False)
    assert response.status_code == 201
    assert response.json()["task_state"] == "SUCCESS"
    assert response.json()["number_samples"] == 1333


def test_asynchronous_bad_file_ends_in_failure_with_message(
    api: httpx.Client, project: dict[str, Any], tmp_path: Path
) -> None:
    bad = tmp_path / "ragged.csv"
    bad.write_text("x,y,z\n1,2,3\n4,5\n")
    created = upload(api, project["uuid"], bad)
    assert created.status_code == 201
    capture = wait_done(api, project["uuid"], created.json()["uuid"])
    assert capture["task_state"] == "FAILURE"
    assert "line 3" in capture["task_result"]


def test_bad_uploads_are_400(api: httpx.Client, project: dict[str, Any], tmp_path: Path) -> None:
    base = f"project/{project['uuid']}/capture/"
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    cases = [
        (upload(api, project["uuid"], empty), "empty"),
        (api.post(base, data={"name": "x.txt"}, files={"file": ("x.txt", b"1,2")}), ".cbor"),
        (api.post(base, files={"file": ("x.csv", b"a\n1\n")}), "name"),
        (api.post(base, data={"name": "n"}), "file"),
        (api.post(base, json={"name": "n"}), "multipart"),
        (
            api.post(
                base,
                data={"name": "n", "set_sample_rate": "fast"},
                files={"file": ("x.csv", b"a\n1\n")},
            ),
            "set_sample_rate",
        ),
        (
            api.post(
                base,
                data={"name": "n", "capture_configuration_uuid": "nope"},
                files={"file": ("x.csv", b"a\n1\n")},
            ),
            "configuration",
        ),
    ]
    for response, words in cases:
        assert response.status_code == 400, response.text
        assert words in response.json()["detail"], response.json()
    assert api.get(base).json() == []


def test_list_filters_orders_and_pages(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    folder = shared_data / "watch" / "captures"
    names = sorted(p.name for p in folder.glob("S02_*.csv"))[:5]
    for name in names:
        assert upload(api, project["uuid"], folder / name).status_code == 201
    base = f"project/{project['uuid']}/capture/"
    for capture in api.get(base).json():
        wait_done(api, project["uuid"], capture["uuid"])
    by_name = api.get(base, params={"ordering": "name"}).json()
    assert [c["name"] for c in by_name] == names
    assert [c["name"] for c in api.get(base, params={"ordering": "-name"}).json()] == names[::-1]
    page = api.get(base, params={"ordering": "name", "limit": 2, "offset": 2}).json()
    assert page["count"] == 5
    assert [c["name"] for c in page["results"]] == names[2:4]
    assert page["next"] is not None and page["previous"] is not None
    assert api.get(base, params={"task_state": "SUCCESS"}).json().__len__() == 5
    assert api.get(base, params={"task_state": "FAILURE"}).json() == []
    assert api.get(base, params={"name__contains": names[0][4:9]}).json()[0]["name"] == names[0]
    filtered = api.get(
        base, params={"name__contains": "S02_", "ordering": "-name", "limit": 2, "offset": 1}
    ).json()
    assert filtered["count"] == 5
    assert [c["name"] for c in filtered["results"]] == names[::-1][1:3]
    last = api.get(base, params={"task_state": "SUCCESS", "limit": 4, "offset": 4}).json()
    assert last["count"] == 5 and len(last["results"]) == 1 and last["next"] is None
    assert api.get(base, params={"ordering": "nonsense"}).status_code == 400
    assert api.get(base, params={"task_state": "PENDING"}).status_code == 400
    assert api.get(base, params={"limit": "x"}).status_code == 400


def test_update_rename_rates_and_replace_file(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    first = upload(api, project["uuid"], shared_data / "watch" / "captures" / WATCH_SAMPLES[0])
    capture = wait_done(api, project["uuid"], first.json()["uuid"])
    url = f"project/{project['uuid']}/capture/{capture['uuid']}/"
    echoed = {k: v for k, v in capture.items() if not k.startswith("_")}
    echoed.update({"name": "renamed.csv", "set_sample_rate": 100, "number_samples": 5})
    patched = api.patch(url, json=echoed)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "renamed.csv"
    assert patched.json()["set_sample_rate"] == 100
    assert patched.json()["number_samples"] == capture["number_samples"]
    assert patched.json()["version"] == capture["version"] + 1
    # multipart with a new file: re-processed, version bumped, new bytes served
    wav = shared_data / "audio" / "BM003.wav"
    form = {k: "" if v is None else str(v) for k, v in echoed.items() if not isinstance(v, dict)}
    with open(wav, "rb") as handle:
        replaced = api.put(url, data=form, files={"file": ("BM003.wav", handle)})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == capture["version"] + 2
    done = wait_done(api, project["uuid"], capture["uuid"])
    assert done["task_state"] == "SUCCESS" and done["format"] == ".wav"
    assert api.get(url + "file/").content == wav.read_bytes()
    other = upload(api, project["uuid"], shared_data / "audio" / "deermouse-go.wav").json()
    clash = api.patch(
        f"project/{project['uuid']}/capture/{other['uuid']}/", json={"name": "renamed.csv"}
    )
    assert clash.status_code == 409


def test_delete_removes_capture_and_files(
    server: RunningServer, api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    created = upload(api, project["uuid"], shared_data / "audio" / "BM003.wav").json()
    wait_done(api, project["uuid"], created["uuid"])
    with_plot_pyramid(api, f"project/{project['uuid']}/capture/{created['uuid']}/plot/")
    # the original, its columnar copy, plot pyramid
    assert _blob_count(server, project["uuid"]) == 3
    url = f"project/{project['uuid']}/capture/{created['uuid']}/"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert _blob_count(server, project["uuid"]) == 0


def test_capture_files_gives_relative_local_urls(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    created = upload(api, project["uuid"], shared_data / "audio" / "BM003.wav").json()
    response = api.post(
        f"project/{project['uuid']}/capture-files/",
        json={"capture_uuids": [created["uuid"]], "expires_in": 60},
    )
    assert response.status_code == 200
    [entry] = response.json()
    url = f"project/{project['uuid']}/capture/{created['uuid']}/file/"
    assert entry == {"uuid": created["uuid"], "name": "BM003.wav", "url": url, "local": True}
    assert api.get(entry["url"]).content == (shared_data / "audio" / "BM003.wav").read_bytes()


def test_samples_come_back_as_arrow(
    api: httpx.Client, project: dict[str, Any], shared_data: Path
) -> None:
    import pyarrow as pa

    path = shared_data / "watch" / "captures" / WATCH_SAMPLES[0]
    created = upload(api, project["uuid"], path, asynchronous=False).json()
    response = api.get(
        f"project/{project['uuid']}/capture/{created['uuid']}/data/",
        params={"start": 10, "end": 20},
    )
    assert response.status_code == 200
    table = pa.ipc.open_stream(response.content).read_all()
    expected = np.loadtxt(path, delimiter=",", skiprows=1)[10:20]
    assert table.num_rows == 10
    assert np.allclose(table.column("AccelerometerX").to_numpy(), expected[:, 0])


def test_openapi_lists_every_route(server: RunningServer) -> None:
    paths = httpx.get(server.url + "openapi.json").json()["paths"]
    for expected in [
        "/version/",
        "/oauth/token/",
        "/team-info/",
        "/transform/",
        "/platforms/v2/",
        "/project/",
        "/project/{project_uuid}/",
        "/project/{project_uuid}/capture/",
        "/project/{project_uuid}/capture/{capture_uuid}/",
        "/project/{project_uuid}/capture/{capture_uuid}/file/",
        "/project/{project_uuid}/capture-files/",
    ]:
        assert expected in paths, expected
    upload_body = paths["/project/{project_uuid}/capture/"]["post"]["requestBody"]
    assert "multipart/form-data" in upload_body["content"]


def _blob_count(server: RunningServer, project_uuid: str = "") -> int:
    """Files in the blob store: all captures', or one project's (other tests' captures may
    still be processing in the background)."""
    root = server.data_dir / "blobs" / "captures" / project_uuid
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def test_error_shape_for_unknown_route(api: httpx.Client) -> None:
    response = api.get("no-such-route/")
    assert response.status_code == 404
    assert json.loads(response.text)["status"] == 404


MALFORMED_OR_UNKNOWN_IDS = ["a%20b", "%2e%2e", "not-a-uuid", str(uuid.uuid4())]


def test_a_new_file_for_a_malformed_or_unknown_capture_id_is_a_404(
    server: RunningServer, api: httpx.Client, project: dict[str, Any]
) -> None:
    """The capture is looked up before the file is received, so an id that names no capture
    (not even an id) is a 404 saying so, not a 500 from making a blob key of it."""
    base = httpx.URL(api.base_url.join(f"project/{project['uuid']}/capture/"))
    for capture_id in MALFORMED_OR_UNKNOWN_IDS:
        for method in ("PATCH", "PUT"):
            # The id goes on the wire as written (percent-escapes, dots), as curl sends it.
            url = base.copy_with(raw_path=base.raw_path + capture_id.encode() + b"/")
            response = api.request(
                method, url, files={"file": ("a.csv", b"ax\n1\n")}, data={"name": "new.csv"}
            )
            assert response.status_code == 404, (method, capture_id, response.text)
            assert "not found" in response.json()["detail"], (method, capture_id)
    assert _blob_count(server, project["uuid"]) == 0
    assert not any((server.data_dir / "blobs" / ".tmp").iterdir())
