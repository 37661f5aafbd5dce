"""A project's MQTT devices and their keys (docs/recording.md#mqtt).

::

    device = client.project.devices.create("esp32-kitchen")
    device["key"]      # "chd_...": shown only now; the device sends it with every message
    device["topic"]    # "capturehub/esp32-kitchen/capture/{id}/{start,samples,stop}"
    client.project.devices.list()            # names, key prefixes, topics (never the keys)
    client.project.devices.delete("esp32-kitchen")   # its key stops working; captures stay

Creating a device whose name the project already has gives it a new key, and the old key
stops working: that is how a key that leaked is replaced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from capturehub._transport import Connection, json_body
from capturehub.exceptions import ServerError

if TYPE_CHECKING:
    from capturehub.datamanager.project import Project


class Devices:
    """The devices that record into one project over MQTT."""

    def __init__(self, connection: Connection, project: Project) -> None:
        self._connection = connection
        self._project = project

    @property
    def _base(self) -> str:
        return f"project/{self._project.uuid}/devices/"

    def create(self, name: str) -> dict[str, Any]:
        """Make device ``name`` (its MQTT topic level, unique on the server), or give it a
        new key. Answers the device with its ``key``, which the server keeps only as a hash.
        Raises ValidationError for a name that cannot be a topic level, ConflictError when
        another project has a device of that name."""
        body = json_body(self._connection.request("POST", self._base, json={"name": name}))
        if not isinstance(body, dict):
            raise ServerError(f"unexpected answer from {self._base}: {body!r:.200}")
        return body

    def list(self) -> list[dict[str, Any]]:
        """The project's devices, without their keys (``key_prefix`` tells them apart)."""
        body = self._connection.get_json(self._base)
        if not isinstance(body, list):
            raise ServerError(f"unexpected answer from {self._base}: {body!r:.200}")
        return body

    def delete(self, name: str) -> None:
        """Delete device ``name``: its key stops working; what it recorded stays.
        Raises NotFoundError when the project has no such device."""
        self._connection.request("DELETE", f"{self._base}{name}/")
