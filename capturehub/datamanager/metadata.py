"""A capture's metadata as a dict that writes through to the server.

::

    capture.metadata["Subject"] = "S01"           # one request (creates the key if missing)
    capture.metadata.update({"Side": "1", "Age": 34})   # one request for all of them
    del capture.metadata["Side"]
    dict(capture.metadata)                        # {"Subject": "S01", "Age": 34}

Each ``capture.metadata`` reads the server afresh (the keys' types, then the capture's
values: two requests); the object keeps what it read and what it wrote, so reading it again
costs nothing. ``refresh()`` reads the server again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from capturehub._transport import json_body
from capturehub.datamanager._wire import iter_list, segment
from capturehub.datamanager.labels import (
    Label,
    Value,
    check_value,
    create_definition,
    infer_type,
    list_definitions,
    typed_value,
)
from capturehub.exceptions import NotFoundError, ServerError

if TYPE_CHECKING:
    from capturehub.datamanager.capture import Capture


class CaptureMetadata(MutableMapping[str, Value]):
    """The metadata of one capture: ``{key name: value}``, read and written on the server.

    Values read back typed by their key (``int`` for an ``integer`` key, ``float`` for a
    ``float`` key, else ``str``). Setting a key the project does not have yet creates it:
    a non-dropdown key whose type follows the Python value (``int`` → integer, ``float`` →
    float, ``str`` → string). Writing a value an existing key cannot hold (text for an integer
    key, a new value for a dropdown) raises ValidationError with the server's reason.
    """

    def __init__(self, capture: Capture) -> None:
        self._capture = capture
        self._keys: dict[str, Label] = {}
        self._values: dict[str, Value] = {}
        self._relationships: dict[str, str] = {}  # key name → relationship uuid
        self.refresh()

    # -- reading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the capture's metadata (and the project's keys) from the server again."""
        connection, project = self._capture._bound()
        self._keys = {
            label.name: label for label in list_definitions(connection, project.uuid, "metadata")
        }
        self._values = {}
        self._relationships = {}
        for item in iter_list(connection, self._path()):
            self._remember(item)

    def __getitem__(self, key: str) -> Value:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._values))

    def __len__(self) -> int:
        return len(self._values)

    # -- writing -------------------------------------------------------------------------------

    def __setitem__(self, key: str, value: Value) -> None:
        self.update({key: value})

    def update(  # type: ignore[override]
        self, other: Mapping[str, Value] | Iterable[tuple[str, Value]] = (), /, **kwargs: Value
    ) -> None:
        """Set several keys in one request (one new capture version, however many keys)."""
        items = dict(other.items() if isinstance(other, Mapping) else other)
        items.update(kwargs)
        if not items:
            return
        for key, value in items.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"metadata keys are non-empty strings, not {key!r}")
            check_value(value, f"the value of metadata {key!r}")
        self._create_missing_keys(items)
        payload = [
            {"label": self._keys[key].uuid, "label_value": value} for key, value in items.items()
        ]
        connection, _ = self._capture._bound()
        answer = json_body(connection.request("POST", self._path(), json=payload))
        if not isinstance(answer, list):
            raise ServerError(f"unexpected answer from {self._path()}: {answer!r:.200}")
        for item in answer:
            self._remember(item)

    def __delitem__(self, key: str) -> None:
        relationship = self._relationships.get(key)
        if relationship is None:
            raise KeyError(key)
        connection, _ = self._capture._bound()
        try:
            connection.request("DELETE", f"{self._path()}{segment(relationship)}/")
        except NotFoundError:  # removed meanwhile by someone else
            self._forget(key)
            raise KeyError(key) from None
        self._forget(key)

    def clear(self) -> None:
        """Remove every key from the capture (one request)."""
        if not self._relationships:
            return
        connection, _ = self._capture._bound()
        connection.request("DELETE", self._path(), json=list(self._relationships.values()))
        self._values.clear()
        self._relationships.clear()

    # -- helpers -------------------------------------------------------------------------------

    def _path(self) -> str:
        _, project = self._capture._bound()
        return (
            f"v2/project/{segment(project.uuid)}/capture/{segment(self._capture.uuid)}/"
            "metadata-relationship/"
        )

    def _create_missing_keys(self, items: dict[str, Value]) -> None:
        missing = [key for key in items if key not in self._keys]
        if not missing:
            return
        connection, project = self._capture._bound()
        for key in missing:
            # exist_ok: another client may have created it since we read the keys.
            self._keys[key] = create_definition(
                connection,
                project.uuid,
                "metadata",
                key,
                None,
                type=infer_type([items[key]]),
                dropdown=False,
                exist_ok=True,
            )

    def _remember(self, item: dict[str, Any]) -> None:
        key = str(item.get("label_name"))
        label = self._keys.get(key)
        self._values[key] = typed_value(item.get("value"), label.type if label else "string")
        self._relationships[key] = str(item.get("uuid"))

    def _forget(self, key: str) -> None:
        self._values.pop(key, None)
        self._relationships.pop(key, None)

    def __repr__(self) -> str:
        return f"<CaptureMetadata of {self._capture.name!r} {self._values!r}>"
