"""Edge Impulse's data acquisition format: one JSON or CBOR document per recording.

``{"protected": {"ver": "v1", "alg": "HS256" | "none", "iat": ...}, "signature": "...",
"payload": {"device_name", "device_type", "interval_ms", "sensors": [{"name", "units"}],
"values": [[...], ...]}}``. The stored file is the document as received (byte for byte); its
columnar copy has one float column per sensor, named after it, and its units go in the schema.

Signatures (HS256) are an HMAC-SHA256 of the document's exact bytes with the signature's 64
characters replaced by ASCII zeros. They are checked by zeroing them *in the received bytes*:
serialising the parsed document again would change key order, spacing or number spelling and
break every signature made by a device.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capturehub.ingest.errors import IngestError
from capturehub.ingest.measurement import Measurement

ZEROS = b"0" * 64
SIGNATURE_VALID = "valid"
SIGNATURE_INVALID = "invalid"
SIGNATURE_UNSIGNED = "unsigned"
# In JSON the signature is the string after the "signature" key; in CBOR it is a text string of
# 64 bytes (head 0x78 0x40) after the key's text string (0x69 "signature").
_JSON_SIGNATURE = re.compile(rb'"signature"\s*:\s*"([0-9A-Fa-f]{64})"')
_CBOR_SIGNATURE = re.compile(rb"\x69signature\x78\x40([0-9A-Fa-f]{64})")


@dataclass
class Sensor:
    name: str
    units: str


@dataclass
class Acquisition:
    """A parsed, checked acquisition document."""

    alg: str
    signature: str | None
    device_name: str | None
    device_type: str
    interval_ms: float
    sensors: list[Sensor]
    values: list[list[float]]
    is_cbor: bool

    @property
    def sample_rate(self) -> float:
        return 1000.0 / self.interval_ms


def is_cbor(raw: bytes) -> bool:
    """A CBOR map (major type 5) opens with 0xA0-0xBB (or 0xBF, indefinite length)."""
    return bool(raw) and (0xA0 <= raw[0] <= 0xBB or raw[0] == 0xBF)


def looks_like_json_document(head: bytes) -> bool:
    text = head.lstrip()
    return text.startswith(b"{") and b'"payload"' in head


def looks_like_document(head: bytes) -> bool:
    return looks_like_json_document(head) or (is_cbor(head) and b"payload" in head)


def decode(raw: bytes) -> Any:
    """The document's value, from JSON or CBOR (told apart by the first byte)."""
    if is_cbor(raw):
        import cbor2

        try:
            return cbor2.loads(raw)
        except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
            raise IngestError(f"the CBOR document could not be read: {exc}") from exc
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise IngestError(f"the JSON document could not be read: {exc}") from exc


def parse(raw: bytes) -> Acquisition:
    """Check the document's shape and values; an :class:`IngestError` saying what is wrong."""
    document = decode(raw)
    if not isinstance(document, dict):
        raise IngestError(
            "the acquisition document must be an object with `protected` and `payload`"
        )
    protected = document.get("protected")
    payload = document.get("payload")
    if not isinstance(protected, dict):
        raise IngestError("the acquisition document has no `protected` object")
    if not isinstance(payload, dict):
        raise IngestError("the acquisition document has no `payload` object")
    alg = protected.get("alg")
    if alg not in ("HS256", "none"):
        raise IngestError(f'protected.alg must be "HS256" or "none", not {alg!r}')
    signature = document.get("signature")
    if signature is not None and not isinstance(signature, str):
        raise IngestError("signature must be a string or null")
    device_type = payload.get("device_type")
    if not isinstance(device_type, str):
        raise IngestError("payload.device_type must be a string")
    device_name = payload.get("device_name")
    if device_name is not None and not isinstance(device_name, str):
        raise IngestError("payload.device_name must be a string or null")
    interval = payload.get("interval_ms")
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise IngestError("payload.interval_ms must be a number (milliseconds between samples)")
    if not math.isfinite(interval) or interval <= 0:
        raise IngestError(f"payload.interval_ms is {interval}; it must be greater than 0")
    sensors = _sensors(payload.get("sensors"))
    values = _values(payload.get("values"), len(sensors))
    return Acquisition(
        alg=alg,
        signature=signature,
        device_name=device_name,
        device_type=device_type,
        interval_ms=float(interval),
        sensors=sensors,
        values=values,
        is_cbor=is_cbor(raw),
    )


def _sensors(raw: Any) -> list[Sensor]:
    if not isinstance(raw, list) or not raw:
        raise IngestError("payload.sensors must be a non-empty list of {name, units}")
    sensors: list[Sensor] = []
    for index, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        units = item.get("units") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise IngestError(f"payload.sensors[{index}] needs a name")
        if not isinstance(units, str):
            raise IngestError(f"payload.sensors[{index}] ({name!r}) needs units (a string)")
        sensors.append(Sensor(name=name, units=units))
    names = [sensor.name for sensor in sensors]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise IngestError(f"payload.sensors names {', '.join(repeated)} more than once")
    return sensors


def _number(value: Any, row: int, column: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IngestError(
            f"payload.values[{row}][{column}] is {value!r}, not a number; every value must be "
            "a number"
        )
    return float(value)


def _values(raw: Any, width: int) -> list[list[float]]:
    if not isinstance(raw, list) or not raw:
        raise IngestError("payload.values must be a non-empty list of samples")
    rows: list[list[float]] = []
    for index, row in enumerate(raw):
        if not isinstance(row, list):
            if width == 1:  # one sensor: Edge Impulse allows a flat list of numbers
                rows.append([_number(row, index, 0)])
                continue
            raise IngestError(
                f"payload.values[{index}] is not a list; with {width} sensors each sample is a "
                f"list of {width} numbers"
            )
        if len(row) != width:
            raise IngestError(
                f"payload.values[{index}] has {len(row)} values but there are {width} sensors"
            )
        rows.append([_number(value, index, column) for column, value in enumerate(row)])
    return rows


def signed_bytes(raw: bytes) -> bytes | None:
    """The bytes a signer hashed: ``raw`` with its signature zeroed; None if none is found."""
    pattern = _CBOR_SIGNATURE if is_cbor(raw) else _JSON_SIGNATURE
    match = pattern.search(raw)
    if match is None:
        return None
    start, end = match.span(1)
    return raw[:start] + ZEROS + raw[end:]


def sign(raw: bytes, key: str) -> str:
    """The HS256 signature of a document whose signature field holds 64 zeros."""
    return hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()


def signature_state(raw: bytes, document: Acquisition, key: str | None) -> str:
    """``valid``, ``invalid`` or ``unsigned`` (alg ``none``)."""
    if document.alg == "none":
        return SIGNATURE_UNSIGNED
    zeroed = signed_bytes(raw)
    if zeroed is None or key is None or document.signature is None:
        return SIGNATURE_INVALID
    expected = sign(zeroed, key)
    return (
        SIGNATURE_VALID
        if hmac.compare_digest(expected, document.signature.lower())
        else (SIGNATURE_INVALID)
    )


def measure_acquisition(source: Path, columnar_out: Path | None) -> Measurement:
    """The format registry's reader: measure a stored document and write its columnar copy."""
    import numpy as np
    import pyarrow as pa

    from capturehub.ingest.columnar import ColumnarWriter
    from capturehub.ingest.stats import RunningStatistics, typical_values

    document = parse(source.read_bytes())
    names = [sensor.name for sensor in document.sensors]
    matrix = np.asarray(document.values, dtype=np.float64)  # rows × sensors
    schema = pa.schema(
        [pa.field(name, pa.float64()) for name in names],
        metadata={
            "capturehub.source_format": "edge-impulse",
            "capturehub.sample_rate": repr(document.sample_rate),
        },
    )
    channels_first = np.ascontiguousarray(matrix.T)
    statistics = RunningStatistics(names, shift=typical_values(channels_first))
    statistics.merge(RunningStatistics.of_block(names, channels_first, shift=statistics.shift))
    if columnar_out is not None:
        with ColumnarWriter(columnar_out, schema) as writer:
            columns = [pa.array(np.ascontiguousarray(matrix[:, i])) for i in range(len(names))]
            writer.write(pa.Table.from_arrays(columns, schema=schema))
            writer.commit()
    count = len(document.values)
    return Measurement(
        number_samples=count,
        max_sequence=count - 1,
        schema={s.name: {"type": "float", "units": s.units} for s in document.sensors},
        calculated_sample_rate=None,
        header_sample_rate=document.sample_rate,
        statistics=statistics.result(),
        channels=names,
    )
