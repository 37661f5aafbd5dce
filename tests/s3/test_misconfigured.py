"""An S3 configuration the store refuses (a missing bucket, wrong keys, a malformed URL) is
something a person can correct: `capturehub serve` and `capturehub worker` refuse to start,
naming the setting, and a store that starts refusing a running server (its bucket deleted)
gets a 503 with a message, never a 500. Against a real SeaweedFS whose S3 gateway checks
credentials (tests/s3server.py gives it one identity)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from capturehub.storage import StoreMisconfigured
from capturehub.storage.s3 import S3BlobStore
from tests.cluster.support import REDIS_URL
from tests.plots.test_plot_pyramid import with_plot_pyramid
from tests.s3.conftest import s3_server_env
from tests.s3server import SeaweedFS
from tests.server.helpers import upload
from tests.servers import free_port, new_server


def _start(command: str, data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`capturehub serve` or `capturehub worker` on SQLite in ``data_dir``; they must exit."""
    arguments = ["--port", str(free_port())] if command == "serve" else ["--concurrency", "1"]
    return subprocess.run(
        [sys.executable, "-m", "capturehub.cli.main", command, *arguments],
        env={
            **subprocess_env(),
            **env,
            "CAPTUREHUB_DATA_DIR": str(data_dir),
            # The worker needs a broker setting; it never reaches it here.
            "CAPTUREHUB_BROKER_URL": REDIS_URL if command == "worker" else "",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def subprocess_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("CAPTUREHUB_", "AWS_"))}


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_missing_bucket_stops_the_start_naming_the_setting(
    command: str, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    bucket = f"missing-{uuid.uuid4().hex[:10]}"
    done = _start(command, tmp_path, s3_server_env(seaweedfs, bucket, "lab"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"the bucket '{bucket}' of CAPTUREHUB_STORAGE_URL does not exist" in done.stderr
    assert seaweedfs.endpoint_url in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_refused_credentials_stop_the_start_naming_the_setting(
    command: str, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    env = s3_server_env(seaweedfs, seaweedfs.new_bucket(), "lab")
    env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    done = _start(command, tmp_path, env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("s3://", "an S3 storage URL looks like s3://bucket/prefix"),
        ("s3://Lab_Recordings/x", "'Lab_Recordings' is not a valid S3 bucket name"),
        ("s3:/lab/x", "use file:///absolute/folder or s3://bucket/prefix"),
    ],
)
def test_a_malformed_storage_url_stops_the_start(url: str, said: str, tmp_path: Path) -> None:
    done = _start("serve", tmp_path, {"CAPTUREHUB_STORAGE_URL": url})
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"CAPTUREHUB_STORAGE_URL: {said}" in done.stderr
    assert "Traceback" not in done.stderr


def test_wrong_keys_are_a_misconfiguration_on_every_request(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    import boto3
    from botocore.config import Config

    bucket = seaweedfs.new_bucket()
    good = S3BlobStore(bucket, "lab", client=seaweedfs.client(), scratch_dir=tmp_path)
    writer = good.writer("a/blob")
    writer.write(b"recorded")
    writer.commit()
    wrong = boto3.client(
        "s3",
        endpoint_url=seaweedfs.endpoint_url,
        aws_access_key_id=seaweedfs.access_key,
        aws_secret_access_key="not-the-secret",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    store = S3BlobStore(
        bucket, "lab", client=wrong, endpoint_url=seaweedfs.endpoint_url, scratch_dir=tmp_path
    )
    for attempt in (
        store.check,
        lambda: store.writer("b/blob"),
        lambda: b"".join(store.read("a/blob")),
        lambda: store.size("a/blob"),
        lambda: list(store.list("a/")),
        lambda: store.delete("a/blob"),
    ):
        with pytest.raises(StoreMisconfigured, match="AWS_SECRET_ACCESS_KEY"):
            attempt()
    assert b"".join(good.read("a/blob")) == b"recorded"  # nothing was changed


def test_a_bucket_gone_under_a_running_server_is_a_503_with_a_message(
    seaweedfs: SeaweedFS, tmp_path: Path, shared_data: Path
) -> None:
    bucket = seaweedfs.new_bucket()
    process = new_server("sqlite", tmp_path / "server")
    try:
        process.env.update(s3_server_env(seaweedfs, bucket, "lab"))
        account = process.create_account("operator", "lab")
        process.start()
        wav = shared_data / "audio" / "deermouse-go.wav"
        with process.http(account) as api:
            project = api.post("project/", json={"name": "p"}).json()["uuid"]
            stored = upload(api, project, wav, asynchronous=False)
            assert stored.status_code == 201, stored.text
            capture = f"project/{project}/capture/{stored.json()['uuid']}/"
            with_plot_pyramid(api, capture + "plot/")  # no job writes after this

            client = seaweedfs.client()
            for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
            client.delete_bucket(Bucket=bucket)

            # Reads only: SeaweedFS makes a bucket again for a write into it (AWS would not).
            for response in (
                api.get(capture + "file/"),
                api.get(capture + "file/", headers={"Range": "bytes=0-99"}),
                api.get(capture + "data/"),
            ):
                assert response.status_code == 503, response.text
                assert "S3 credentials or bucket" in response.json()["detail"]
            assert api.get(f"project/{project}/capture/").status_code == 200
        assert f"the bucket '{bucket}' of CAPTUREHUB_STORAGE_URL does not exist" in process.log()
    finally:
        process.close()
