"""The database tables, for every feature, in one declarative module.

Tables have an integer primary key (cheap joins at 100k+ rows) and, where the API exposes
them, a ``uuid`` column that is what clients see. Timestamps are stored in UTC.
"""

from __future__ import annotations

import uuid as uuid_module
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid_module.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


UTCDateTime = DateTime(timezone=True)


class Team(Base):
    __tablename__ = "team"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set for a project key (Edge Impulse's ``ei_`` keys): it opens that one project, through
    # the Edge Impulse routes only. Null for a user's key (``chk_``), which opens the team.
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), nullable=True, index=True
    )


class AccessToken(Base):
    __tablename__ = "access_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The login (grant) it comes from, shared by every refresh token and access token issued
    # since that login: revoking a refresh token ends the whole grant (RFC 7009 2.1).
    grant_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class RefreshToken(Base):
    __tablename__ = "refresh_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    grant_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)


class LoginThrottle(Base):
    """Failed logins of one client address, or of one user name from one address, and until
    when further attempts are refused. In the database, so that every server shares it."""

    __tablename__ = "login_throttle"
    # SHA-256 of what is counted ("address 203.0.113.7", or a user name and an address).
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class HousekeepingLease(Base):
    """Which process of the cluster runs the periodic housekeeping, and until when: a lease
    renewed at every pass, taken over by another process once it runs out (its holder died).
    In the database, so it needs nothing else than what every server already shares."""

    __tablename__ = "housekeeping_lease"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Passes run under this lease, all holders together (for operators and tests).
    passes: Mapped[int] = mapped_column(Integer, default=0)
    # How often SQLite's planner statistics were refreshed: the other processes on the same
    # file re-read them when it changes.
    statistics_generation: Mapped[int] = mapped_column(Integer, default=0)


class Project(Base):
    __tablename__ = "project"
    __table_args__ = (UniqueConstraint("team_id", "name", name="uq_project_team_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    plugin_config: Mapped[Any] = mapped_column(JSON, nullable=True)
    capture_sample_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lock_schema: Mapped[bool] = mapped_column(Boolean, default=False)
    # How many captures the project holds, changed in the same transaction as every capture
    # insert and delete: the unfiltered list's count without counting 100,000 rows per page.
    capture_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectSigningKey(Base):
    """A project's HMAC key: devices sign Edge Impulse acquisition documents with it (HS256),
    so it is kept readable (it is a shared secret for checking signatures, not a login)."""

    __tablename__ = "project_signing_key"
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )
    hmac_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaptureConfiguration(Base):
    """A capture configuration; its uuid (which the client may choose) is unique per team, so
    a team can neither learn of another team's uuids nor take one before them."""

    __tablename__ = "capture_configuration"
    __table_args__ = (
        UniqueConstraint("team_id", "uuid", name="uq_capture_configuration_team_uuid"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid)
    # The project's team, copied so that the database can hold the uniqueness per team.
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(1000))
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The task_state of a capture being recorded live (server/recording/): no file yet, left alone
# by processing, the housekeeping's requeue and fsck. The wire shows it as SENT with
# ``recording: true`` (captures/schemas.py says why).
RECORDING = "RECORDING"


class Capture(Base):
    __tablename__ = "capture"
    __table_args__ = (
        UniqueConstraint("project_id", "name", name="uq_capture_project_name"),
        Index("ix_capture_project_state", "project_id", "task_state"),
        # id: the list's tie-breaker, so the default order is an index-only scan.
        Index("ix_capture_project_created", "project_id", "created_at", "id"),
        # Uploads that refuse a file whose bytes the project already holds look it up here.
        Index("ix_capture_project_sha256", "project_id", "sha256"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(1000))
    format: Mapped[str] = mapped_column(String(8))
    file_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Storage keys are generated from uuids, never from the user's names.
    blob_key: Mapped[str] = mapped_column(String(255))
    columnar_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    number_samples: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_sequence: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    set_sample_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    calculated_sample_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    capture_configuration_id: Mapped[int | None] = mapped_column(
        ForeignKey("capture_configuration.id", ondelete="SET NULL"), nullable=True
    )
    task_state: Mapped[str] = mapped_column(String(16), default="SENT")
    task_result: Mapped[str | None] = mapped_column(Text, nullable=True)
    task_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Recording(Base):
    """A capture recorded live (server/recording/): its channels, rate and counters. The row
    stays after the recording stopped (its status is still readable); its batches do not."""

    __tablename__ = "recording"
    __table_args__ = (Index("ix_recording_state", "state"),)
    capture_id: Mapped[int] = mapped_column(
        ForeignKey("capture.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8), default="sensor")
    # [{"name": ..., "units": ...}, ...] in column order.
    channels: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    sample_rate: Mapped[float] = mapped_column(Float)
    idle_timeout_seconds: Mapped[float] = mapped_column(Float)
    # "recording", "stopping" (assembling the original; a crash leaves it to be finished by a
    # stop or the housekeeping) or "stopped".
    state: Mapped[str] = mapped_column(String(16), default="recording")
    samples: Mapped[int] = mapped_column(BigInteger, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bad_batches: Mapped[int] = mapped_column(Integer, default=0)
    gaps: Mapped[int] = mapped_column(Integer, default=0)
    last_problem: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_batch_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why it stopped: "client" or "idle".
    stopped_by: Mapped[str | None] = mapped_column(String(16), nullable=True)


class RecordingBatch(Base):
    """One acknowledged batch of a recording in progress: ``row_count`` rows of samples from
    sample index ``first_sample`` on, as little-endian float64 values, row after row."""

    __tablename__ = "recording_batch"
    __table_args__ = (Index("ix_recording_batch_first", "capture_id", "first_sample"),)
    capture_id: Mapped[int] = mapped_column(
        ForeignKey("capture.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    first_sample: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Label(Base):
    """A segment label (``is_metadata`` false) or a capture metadata key (true)."""

    __tablename__ = "label"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_label_project_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(1000))
    type: Mapped[str] = mapped_column(String(16), default="string")
    is_dropdown: Mapped[bool] = mapped_column(Boolean, default=True)
    is_metadata: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabelValue(Base):
    __tablename__ = "label_value"
    __table_args__ = (
        UniqueConstraint("label_id", "value", name="uq_label_value_label_value"),
        # Range filters on a numeric metadata key (metadata.Age__gte=30) walk this index.
        Index("ix_label_value_label_number", "label_id", "number"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    label_id: Mapped[int] = mapped_column(ForeignKey("label.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(1000))
    # Typed copy of the value for range queries on integer/float metadata keys.
    number: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    color: Mapped[str] = mapped_column(String(9), default="#5B8FF9")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaptureMetadataValue(Base):
    __tablename__ = "capture_metadata_value"
    __table_args__ = (
        UniqueConstraint("capture_id", "label_id", name="uq_capture_metadata_value_capture_label"),
        # A key's captures with a value, in the capture list's default order: a filtered page
        # is read from this index alone (see metadata/filters.py, ordered_ids).
        Index(
            "ix_capture_metadata_value_ordered",
            "label_id",
            "label_value_id",
            "capture_created_at",
            "capture_id",
        ),
        # Deleting a value (its ON DELETE CASCADE) finds the captures using it.
        Index("ix_capture_metadata_value_value", "label_value_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    capture_id: Mapped[int] = mapped_column(ForeignKey("capture.id", ondelete="CASCADE"))
    label_id: Mapped[int] = mapped_column(ForeignKey("label.id", ondelete="CASCADE"))
    label_value_id: Mapped[int] = mapped_column(ForeignKey("label_value.id", ondelete="CASCADE"))
    # The capture's created_at (which never changes), copied so that the list's default order
    # needs no visit to `capture`: on 100,000 captures those visits were most of the time of a
    # metadata-filtered page.
    capture_created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Segmenter(Base):
    __tablename__ = "segmenter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(1000))
    custom: Mapped[bool] = mapped_column(Boolean, default=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Segment(Base):
    """A labelled range of a capture's samples (the wire API's "label relationship")."""

    __tablename__ = "segment"
    __table_args__ = (
        Index("ix_segment_capture", "capture_id"),
        Index("ix_segment_label_value", "label_value_id"),
        # A segmenter's segments (v2/project/{p}/segmenter/{id}/label-relationship/).
        Index("ix_segment_segmenter", "segmenter_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    capture_id: Mapped[int] = mapped_column(ForeignKey("capture.id", ondelete="CASCADE"))
    label_id: Mapped[int] = mapped_column(ForeignKey("label.id", ondelete="CASCADE"))
    label_value_id: Mapped[int] = mapped_column(ForeignKey("label_value.id", ondelete="CASCADE"))
    segmenter_id: Mapped[int | None] = mapped_column(
        ForeignKey("segmenter.id", ondelete="SET NULL"), nullable=True
    )
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- dataset versions (capturehub/server/versions/) -------------------------------------------
# A version copies rows, never blobs. The big tables (one row per capture, metadata value and
# segment of a version) carry no foreign keys: on PostgreSQL each one would cost a lookup per
# inserted row, doubling the time to pin a million segments. Their rows are deleted by the
# versions service (a version, or every version of a project before the project goes).


class DatasetVersion(Base):
    """An immutable, named snapshot of a set of a project's captures."""

    __tablename__ = "dataset_version"
    __table_args__ = (
        UniqueConstraint("project_id", "name", name="uq_dataset_version_project_name"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    # The capture-list filters that chose the captures ({} for the whole project).
    where: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    capture_count: Mapped[int] = mapped_column(Integer, default=0)
    sample_count: Mapped[int] = mapped_column(BigInteger, default=0)
    segment_count: Mapped[int] = mapped_column(Integer, default=0)
    # Segments per label and value: {"Exercise": {"PEN": 12, ...}}.
    label_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VersionValue(Base):
    """A label (or metadata key) with one of its values, as versions saw them. Shared by the
    project's versions; a renamed label or value gets a new row, so old versions keep the
    names they were made with."""

    __tablename__ = "version_value"
    __table_args__ = (Index("ix_version_value_source", "project_id", "label_value_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    # The label_value row it was copied from (no foreign key: the value may be deleted).
    label_value_id: Mapped[int] = mapped_column(Integer)
    is_metadata: Mapped[bool] = mapped_column(Boolean)
    label: Mapped[str] = mapped_column(String(1000))
    label_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(1000))


class VersionCapture(Base):
    """One capture of a version, as it was: its file (original and columnar keys, sha256)."""

    __tablename__ = "version_capture"
    __table_args__ = (
        Index("ix_version_capture_version", "version_id", "capture_id"),
        # "Does any version pin this file?" when a capture is deleted or its file replaced.
        Index("ix_version_capture_blob", "blob_key"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer)
    # The capture row it was copied from (no foreign key: the capture may be deleted).
    capture_id: Mapped[int] = mapped_column(Integer)
    uuid: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(1000))
    format: Mapped[str] = mapped_column(String(8))
    file_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(255))
    columnar_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    number_samples: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    set_sample_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    calculated_sample_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    task_state: Mapped[str] = mapped_column(String(16))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SHA-256 (hex) of the capture's metadata and segment lines (capturehub/datamanager/
    # content_hash.py): the content hash is made of these, and a diff compares them. NULL in
    # versions made before it existed; in versions made before it became the content hash's
    # (2026-12-03), a digest of value ids: a diff then compares the rows in full.
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class VersionMetadata(Base):
    """A metadata value of a version's capture (one per key, as captures have)."""

    __tablename__ = "version_metadata"
    # The key is the only index (no surrogate id): a version copies 500,000 of these rows for
    # 100,000 captures, and each index is written row by row (PostgreSQL: and logged).
    version_capture_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class VersionSegment(Base):
    """A segment of a version's capture (bounds inclusive, as segments are).

    No primary key in the database (nothing refers to one row; two equal segments may
    exist), so its one index is by capture: a version copies a million of these rows, and
    each index is written row by row. The mapper's key is all its columns."""

    __tablename__ = "version_segment"
    __table_args__ = (Index("ix_version_segment_capture", "version_capture_id"),)
    version_capture_id: Mapped[int] = mapped_column(Integer)
    value_id: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger)

    # Read once by the mapper (SQLAlchemy's declared type is an instance variable).
    __mapper_args__ = {"primary_key": [version_capture_id, value_id, start, end]}  # noqa: RUF012


class RecordingDevice(Base):
    """A device allowed to record into one project over MQTT (server/recording/mqtt/), and
    the SHA-256 of its key. Its name is its topic level (``capturehub/<device>/...``), so it is
    unique in the installation, not only in the project: two devices never share a topic."""

    __tablename__ = "recording_device"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    # Whose rights the device records with (the user who made its key).
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecordingDeviceCapture(Base):
    """Which capture a device's recording ``<id>`` (its topic level) became: a device names
    its recordings, capturehub names captures."""

    __tablename__ = "recording_device_capture"
    device_id: Mapped[int] = mapped_column(
        ForeignKey("recording_device.id", ondelete="CASCADE"), primary_key=True
    )
    recording_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    capture_id: Mapped[int] = mapped_column(
        ForeignKey("capture.id", ondelete="CASCADE"), index=True
    )
