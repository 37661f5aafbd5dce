"""A capture's segments: labelled sample ranges, listed, added and removed on the server.

::

    capture.segments.add("Exercise", "PEN", 0, 1332)   # samples 0..1332, both included
    for seg in capture.segments:
        print(seg.label, seg.value, seg.start, seg.end)
    capture.segments.remove(seg)
    capture.segments.to_dataframe()                  # label, value, start, end, uuid, segmenter

Bounds are sample indices and **both are included** (the server's rule, as in the watch
manifest): a segment covers ``end - start + 1`` samples and ``0 <= start < end <=
max_sequence``. The server checks every segment; a bad one raises ValidationError with its
reason, and a capture still being processed raises ConflictError (retry after
``await_ready()``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from capturehub._transport import json_body
from capturehub.datamanager._wire import iter_list, segment
from capturehub.datamanager.labels import Value, check_value, list_definitions, typed_value
from capturehub.exceptions import ServerError

if TYPE_CHECKING:
    import pandas as pd

    from capturehub.datamanager.capture import Capture

START = "capture_sample_sequence_start"
END = "capture_sample_sequence_end"
SEGMENT_COLUMNS = ["label", "value", "start", "end", "uuid", "segmenter"]


@dataclass(frozen=True)
class Segment:
    """One labelled range of a capture's samples (``start`` and ``end`` both included).

    Attributes:
        label: the segment label's name (``"Exercise"``).
        value: its value, typed by the label (``"PEN"``; ``3`` for an integer label).
        start, end: the first and last sample index covered.
        uuid: the server's identifier ("" for a segment not sent yet).
        segmenter: the id of the segmenter that made it, or None.
        capture_uuid: the uuid of its capture.
    """

    label: str
    value: Value
    start: int
    end: int
    uuid: str = ""
    segmenter: int | None = None
    capture_uuid: str = ""

    @property
    def length(self) -> int:
        """The number of samples covered: ``end - start + 1``."""
        return self.end - self.start + 1

    @classmethod
    def _from_wire(cls, item: Mapping[str, Any], types: Mapping[str, str]) -> Segment:
        label = str(item.get("label_name"))
        return cls(
            label=label,
            value=typed_value(item.get("value"), types.get(label, "string")),
            start=int(item[START]),
            end=int(item[END]),
            uuid=str(item.get("uuid") or ""),
            segmenter=item.get("segmenter"),
            capture_uuid=str(item.get("capture") or ""),
        )


def segment_payload(
    item: Segment | Mapping[str, Any] | Sequence[Any], segmenter: int | None = None
) -> dict[str, Any]:
    """The wire body of a segment to create, from a Segment, a dict with label, value, start
    and end (or the wire's own field names), or a tuple ``(label, value, start, end)``."""
    label: Any
    chosen: Any
    if isinstance(item, Segment):
        label, value, start, end, chosen = (
            item.label,
            item.value,
            item.start,
            item.end,
            item.segmenter,
        )
    elif isinstance(item, Mapping):
        label = item.get("label")
        value = item.get("value", item.get("label_value"))
        start = item.get("start", item.get(START))
        end = item.get("end", item.get(END))
        chosen = item.get("segmenter")
    elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 4:
        label, value, start, end = item
        chosen = None
    else:
        raise TypeError(
            "a segment is a Segment, a dict with label, value, start and end, or a tuple "
            f"(label, value, start, end); got {item!r:.100}"
        )
    if not isinstance(label, str) or not label:
        raise TypeError(f"a segment's label is the label's name (a str), not {label!r}")
    check_value(value, f"the value of segment label {label!r}")
    payload: dict[str, Any] = {"label": label, "label_value": value, START: start, END: end}
    if segmenter is not None:
        payload["segmenter"] = segmenter
    elif chosen is not None:
        payload["segmenter"] = chosen
    return payload


class CaptureSegments(Sequence[Segment]):
    """The segments of one capture, in sample order, as the server last answered them.

    ``capture.segments`` reads the server afresh (the labels' types, then the segments: two
    requests); ``add``/``remove`` write at once and keep this list up to date; ``refresh()``
    reads again.
    """

    def __init__(self, capture: Capture) -> None:
        self._capture = capture
        self._types: dict[str, str] = {}
        self._segments: list[Segment] = []
        self.refresh()

    def refresh(self) -> None:
        """Read the capture's segments (and the labels' types) from the server again."""
        connection, _ = self._capture._bound()
        self._load_types()
        self._segments = [
            Segment._from_wire(item, self._types) for item in iter_list(connection, self._path())
        ]

    # -- reading -------------------------------------------------------------------------------

    @overload
    def __getitem__(self, index: int) -> Segment: ...

    @overload
    def __getitem__(self, index: slice) -> list[Segment]: ...

    def __getitem__(self, index: int | slice) -> Segment | list[Segment]:
        return self._segments[index]

    def __len__(self) -> int:
        return len(self._segments)

    def __iter__(self) -> Iterator[Segment]:
        return iter(list(self._segments))

    def to_dataframe(self) -> pd.DataFrame:
        """One row per segment: label, value, start, end, uuid, segmenter."""
        import pandas as pd

        return pd.DataFrame(
            [
                {column: getattr(seg, column) for column in SEGMENT_COLUMNS}
                for seg in self._segments
            ],
            columns=SEGMENT_COLUMNS,
        )

    # -- writing -------------------------------------------------------------------------------

    def add(
        self, label: str, value: Value, start: int, end: int, *, segmenter: int | None = None
    ) -> Segment:
        """Label samples ``start`` to ``end`` (both included) with ``label`` = ``value``.

        ``label`` is the name of an existing segment label; ``value`` one of its values (for a
        non-dropdown label a new value is created). Raises ValidationError with the server's
        reason for bad bounds or a value the label does not have.
        """
        (added,) = self.add_many([(label, value, start, end)], segmenter=segmenter)
        return added

    def add_many(
        self,
        segments: Iterable[Segment | Mapping[str, Any] | Sequence[Any]],
        *,
        segmenter: int | None = None,
    ) -> list[Segment]:
        """Add several segments in one request (all or none: one bad segment refuses all,
        and the error lists every problem). Each is a Segment, a dict with ``label``,
        ``value``, ``start`` and ``end``, or a tuple ``(label, value, start, end)``."""
        payload = [segment_payload(item, segmenter) for item in segments]
        if not payload:
            return []
        connection, _ = self._capture._bound()
        answer = json_body(connection.request("POST", self._path(), json=payload))
        if not isinstance(answer, list):
            raise ServerError(f"unexpected answer from {self._path()}: {answer!r:.200}")
        if any(item.get("label_name") not in self._types for item in answer):
            self._load_types()  # a label created since this list was read
        added = [Segment._from_wire(item, self._types) for item in answer]
        self._segments = sorted(
            [*self._segments, *added], key=lambda seg: (seg.start, seg.end, seg.label)
        )
        return added

    def remove(self, *segments: Segment | str) -> None:
        """Delete these segments (Segment objects or uuids) in one request; all or none
        (NotFoundError naming any that is not on this capture)."""
        uuids = [item.uuid if isinstance(item, Segment) else str(item) for item in segments]
        if not uuids:
            return
        if any(not uuid for uuid in uuids):
            raise ValueError("cannot remove a segment that has no uuid (it was never added)")
        connection, _ = self._capture._bound()
        connection.request("DELETE", self._path(), json=uuids)
        gone = set(uuids)
        self._segments = [seg for seg in self._segments if seg.uuid not in gone]

    def clear(self) -> None:
        """Delete every segment of the capture (one request)."""
        self.remove(*self._segments)

    # -- helpers -------------------------------------------------------------------------------

    def _load_types(self) -> None:
        connection, project = self._capture._bound()
        self._types = {
            label.name: label.type for label in list_definitions(connection, project.uuid, "label")
        }

    def _path(self) -> str:
        _, project = self._capture._bound()
        return (
            f"project/{segment(project.uuid)}/capture/{segment(self._capture.uuid)}/"
            "label-relationship/"
        )

    def __repr__(self) -> str:
        return f"<CaptureSegments of {self._capture.name!r}: {len(self._segments)} segments>"
