"""The one settings object of the server: every knob, its default and its help, in one place.

Each field is read from a ``CAPTUREHUB_<NAME>`` environment variable. ``capturehub serve --help``
and ``docs/settings.md`` list them; a test checks that the docs stay complete.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from capturehub.server.proxies import Network, parse_networks


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAPTUREHUB_", extra="ignore")

    data_dir: Path = Field(
        Path("./capturehub-data"),
        description="Folder that holds the SQLite database and the local blob store.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database; default: SQLite file capturehub.db "
        "in the data directory. Example: postgresql+psycopg://user@host:5432/capturehub",
    )
    storage_url: str | None = Field(
        None,
        description="Where capture files and their columnar copies are stored: "
        "file:///path (a folder) or s3://bucket/prefix (an S3-compatible object store; "
        "credentials and region through boto3's usual chain: AWS_ACCESS_KEY_ID, profiles, "
        "instance roles); default: the folder blobs in the data directory.",
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="URL of an S3-compatible server (SeaweedFS, MinIO...), e.g. "
        "http://127.0.0.1:8333; default: AWS S3.",
    )
    root_path: str = Field(
        "",
        description="Path prefix the server is reached under (e.g. /api); requests may "
        "carry it or not.",
    )
    workers: int = Field(
        2,
        description="Background processing threads inside `capturehub serve`; 0 leaves "
        "processing to other processes. With CAPTUREHUB_BROKER_URL: the jobs each "
        "`capturehub worker` runs at once (its --concurrency).",
    )
    access_token_ttl_seconds: int = Field(
        36_000, description="Lifetime of an access token (default 10 hours)."
    )
    refresh_token_ttl_seconds: int = Field(
        30 * 24 * 3600, description="Lifetime of a refresh token (default 30 days)."
    )
    max_upload_bytes: int = Field(
        20 * 1024**3,
        description="Largest accepted capture file in bytes; larger uploads get a 413 "
        "while they stream.",
    )
    max_request_body_bytes: int = Field(
        1024**2,
        description="Largest accepted request body in bytes (JSON or form) on every route "
        "but the bulk ones and file uploads; a larger one gets a 413 before it is read.",
    )
    max_bulk_request_body_bytes: int = Field(
        16 * 1024**2,
        description="Largest accepted JSON body in bytes on the bulk routes (segments and "
        "metadata of many captures at once, capture-files); a larger one gets a 413.",
    )
    recording_stream_window: int = Field(
        8,
        gt=0,
        le=1024,
        description="Batches a recording's WebSocket client may send before their acks "
        "(its flow-control window); one more is answered `refused` and dropped, so a fast "
        "client never fills the server's memory (docs/recording.md).",
    )
    broker_url: str | None = Field(
        None,
        description="Where processing jobs go. Unset: a pool of CAPTUREHUB_WORKERS threads "
        "inside each `capturehub serve` (the embedded default). A Redis URL "
        "(redis://host:6379/0, or rediss:// for TLS): jobs go to Celery on that Redis and "
        "`capturehub worker` processes run them; `capturehub serve` then runs none itself.",
    )
    job_visibility_timeout_seconds: float = Field(
        6 * 3600.0,
        description="With a broker: a job taken by a worker that neither finishes nor "
        "returns it in this many seconds (the worker was killed) is delivered again. Keep it "
        "above the longest job (processing the largest accepted upload); a worker's death is "
        "noticed sooner through the capture's claim (CAPTUREHUB_STALE_JOB_SECONDS), so this "
        "is only the last resort.",
    )
    requeue_interval_seconds: float = Field(
        30.0,
        description="How often the server's housekeeping runs: it queues captures left SENT "
        "or STARTED (e.g. by a crash) again, and refreshes SQLite's planner statistics when "
        "the project data has grown. With several servers and workers on one database, one "
        "process at a time runs it (the holder of a lease in the database, taken over "
        "after three intervals if the holder dies).",
    )
    local_data_access: bool = Field(
        True,
        description="Let an SDK on this machine (a request from a loopback address) read "
        "stored files in place: `get_data()` gets the columnar copy's path and memory-maps it, "
        "`download()` gets the original's path and copies it, instead of both coming over "
        "HTTP. The SDK checks the file is the one the server means and falls back to HTTP "
        "otherwise. Turn it off if a proxy on this machine forwards remote clients without "
        "telling the server their address (X-Forwarded-For from a trusted proxy, see "
        "CAPTUREHUB_TRUSTED_PROXIES), or to keep file "
        "paths private.",
    )
    stale_job_seconds: float = Field(
        60.0,
        description="A worker renews its claim on a capture every quarter of this; a capture "
        "STARTED whose claim is older is considered abandoned (a dead worker) and is "
        "processed again.",
    )

    request_threads: int = Field(
        40,
        description="Requests handled at once by threads (most routes: database reads and "
        "writes, file reads); more wait their turn. Each holds at most one database "
        "connection, so the connection pool is sized from this.",
    )
    database_pool_size: int | None = Field(
        None,
        description="Database connections this server keeps; default: request_threads + two "
        "per processing worker (the job and its lease renewal) + 2 (housekeeping and a spare), "
        "so a request never waits for one. On PostgreSQL every server's pool counts against "
        "max_connections.",
    )
    database_pool_timeout_seconds: float = Field(
        10.0,
        description="How long a request waits for a free database connection before it is "
        "answered 503 with Retry-After (the server is overloaded; the client may retry).",
    )
    limit_concurrency: int = Field(
        1000,
        description="Open connections (and requests in progress) beyond which new requests "
        "are answered 503 at once instead of queueing; each connection costs a file handle.",
    )
    keep_alive_timeout_seconds: int = Field(
        5,
        description="An idle keep-alive connection is closed after this many seconds.",
    )
    header_timeout_seconds: float = Field(
        10.0,
        description="A connection whose request headers are not complete this many seconds "
        "after it opened (or after its request began) is answered 408 and closed: slow or "
        "stalled clients cannot hold connections.",
    )
    body_timeout_seconds: float = Field(
        20.0,
        description="A request body (an upload) from which no byte arrives for this many "
        "seconds is answered 408 and its connection closed; a slow but moving upload is not "
        "affected.",
    )

    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="Comma-separated addresses or networks (e.g. 10.0.0.0/8) of reverse "
        "proxies whose X-Forwarded-For header names the client; the login throttle and the "
        "local data access then use that address. Empty: trust no proxy.",
    )

    mqtt_url: str | None = Field(
        None,
        description="MQTT broker that devices publish live recordings to, e.g. "
        "mqtt://user:password@127.0.0.1:1883 (mqtts:// for TLS). Set: every `capturehub serve` "
        "and `capturehub worker` takes part, and one at a time (the holder of a lease in the "
        "database) subscribes and records what devices publish ([recording](recording.md#mqtt)).",
    )
    mqtt_topic_prefix: str = Field(
        "capturehub",
        description="First level of the topics capturehub reads and writes on the broker "
        "(`<prefix>/<device>/capture/<id>/samples`...); one per capturehub installation "
        "sharing a broker.",
    )
    mqtt_client_id: str = Field(
        "capturehub-recorder",
        description="MQTT client id of the subscriber, with a persistent session: messages "
        "published while no capturehub process is connected wait on the broker for the next "
        "holder of the lease (within the broker's own queue limits).",
    )
    mqtt_workers: int = Field(
        4,
        gt=0,
        description="Threads that store MQTT batches at once (the batches of one recording "
        "always in order, by one thread); the broker holds back messages beyond "
        "mqtt_receive_maximum until they are stored and acknowledged.",
    )
    mqtt_receive_maximum: int = Field(
        256,
        gt=0,
        le=65535,
        description="MQTT messages the broker may have delivered to capturehub and not yet "
        "had acknowledged (MQTT v5 Receive Maximum): bounds the memory they take here.",
    )

    edge_impulse_label_name: str = Field(
        "Label",
        description="The segment label that Edge Impulse sample labels (x-label, structured "
        "labels) are stored under (docs/edge-impulse.md).",
    )
    edge_impulse_max_file_bytes: int = Field(
        100 * 1024**2,
        description="Largest file accepted in one part of an Edge Impulse ingestion request "
        "(Edge Impulse's own limit is 100 MB); a larger part gets a per-file error.",
    )
    edge_impulse_studio_port: int = Field(
        4800,
        description="Port of the Studio API that `capturehub serve --edge-impulse-ports` also "
        "listens on (Edge Impulse's Node clients use 4800 for EI_HOST=localhost or an IP).",
    )
    edge_impulse_ingestion_port: int = Field(
        4810,
        description="Port of the ingestion API that `capturehub serve --edge-impulse-ports` "
        "also listens on (the Node clients use 4810).",
    )

    recording_idle_timeout_seconds: float = Field(
        600.0,
        gt=0,
        le=30 * 24 * 3600,
        description="A live recording that receives no batch for this many seconds is "
        "stopped by the housekeeping (and processed like any capture); a recording may set "
        "its own timeout when it starts (docs/recording.md).",
    )
    recording_max_pending_batches: int = Field(
        256,
        gt=0,
        description="Recording batches waiting to be stored in this process (they are "
        "stored together, a transaction for all those waiting); an HTTP batch beyond this "
        "is refused with 503 and Retry-After instead of queueing in memory. WebSocket and "
        "MQTT batches are bounded by their own windows (recording_stream_window, the "
        "broker's in-flight messages) and wait for their turn.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        parse_networks(value)  # a typo must stop the server, not silently trust nobody
        return value

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, value: str | None) -> str | None:
        if value and not (value.startswith("file:///") or value.startswith("s3://")):
            raise ValueError("use file:///absolute/folder or s3://bucket/prefix")
        if value and value.startswith("s3://"):
            from capturehub.storage.s3 import parse_s3_url  # no boto3 import at this point

            parse_s3_url(value)  # a bucket name S3 would refuse stops the server here
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _check_s3_endpoint_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"use http://host:port or https://host, not {value!r}")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not (value.startswith("mqtt://") or value.startswith("mqtts://")):
            raise ValueError("use mqtt://[user:password@]host[:port] or mqtts://...")
        return value

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://")):
            raise ValueError(
                "CAPTUREHUB_BROKER_URL must be a Redis URL (redis://host:6379/0 or rediss://...)"
            )
        return value

    @property
    def in_process_workers(self) -> int:
        """Processing threads inside this server: none when a broker delivers the jobs."""
        return 0 if self.broker_url else self.workers

    @property
    def trusted_proxy_networks(self) -> list[Network]:
        return parse_networks(self.trusted_proxies)

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'capturehub.db').resolve()}"

    @property
    def effective_database_pool_size(self) -> int:
        if self.database_pool_size:
            return self.database_pool_size
        return self.request_threads + 2 * self.in_process_workers + 2

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def normalized_root_path(self) -> str:
        root = self.root_path.strip("/")
        return f"/{root}" if root else ""


def get_settings() -> Settings:
    return Settings()
